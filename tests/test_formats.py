"""The output formats of SPEC section 8, in-process: Markdown, LaTeX and HTML of solve and
explain, their structure, the escaping of text convgrad did not write, Chinese, the
summaries of large problems, the command line's --format, -o, --lang and --fragment, and
the methods of the Result that convgrad.solve returns."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import convgrad
from convgrad.engine import run
from convgrad.reader import load_problem
from convgrad.render import texmath
from convgrad.render.formats import format_of, write
from convgrad.render.terminal import FORMS

from .conftest import PROBLEMS, ROOT, run_main

SEED = "problems/seed_worked_example.yaml"


def solved(problem, exact=None):
    return run(load_problem(problem), exact=exact)


def math_blocks(markdown: str) -> list[str]:
    """The display math of a Markdown text: what lies between two lines that are `$$`."""
    return re.findall(r"^\$\$\n(.*?)\n\$\$$", markdown, flags=re.S | re.M)


# --- every formula the terminal writes, the math writer writes -----------------------------


def test_every_form_of_the_terminal_has_its_math():
    from convgrad.render import terminal

    assert set(texmath.TEX_FORMS) == set(FORMS)
    for table in ("LOSS_FORMULAS", "LOSS_DERIVATIVES", "LOSS_SUMS", "ACTIVATION_FORMULAS",
                  "ACTIVATION_DERIVATIVES"):
        assert set(getattr(texmath, table)) == set(getattr(terminal, table)), table


def test_numbers_as_math():
    from fractions import Fraction

    assert texmath.number(Fraction(-7, 2)) == r"-\frac{7}{2}"
    assert texmath.number(23) == "23"
    assert texmath.number(1.5e-7) == r"1.5 \cdot 10^{-7}"
    assert texmath.factor(-3) == r"\left(-3\right)"
    assert texmath.number(10**50) == r"\approx 1 \cdot 10^{50}"


def test_text_escapes_every_special_character_of_tex():
    assert texmath.text("a_b & $5 #1 50% {x} ~ ^ \\") == (
        r"a\_b \& \$5 \#1 50\% \{x\} \~{} \^{} \textbackslash{}")
    assert texmath.text("y = W·x") == r"y = W$\cdot$x"


# --- markdown --------------------------------------------------------------------------------


def test_markdown_of_the_seed_example():
    md = write(solved(SEED), "markdown")
    assert md.startswith("# Solution: 3x3 input, 2x2 kernel, MSE loss\n")
    for title in ("## Problem", "## Forward: convolution", "## Loss: mse",
                  "## Backward: dL/dW", "## Backward: dL/dX", "## Results"):
        assert f"\n{title}\n" in md
    # every $$ alone on its line, a blank line around each block
    lines = md.splitlines()
    fences = [k for k, line in enumerate(lines) if "$$" in line]
    assert fences and len(fences) % 2 == 0
    for opening, closing in zip(fences[::2], fences[1::2], strict=True):
        assert lines[opening] == "$$" and lines[closing] == "$$"
        assert lines[opening - 1] == "" and (closing + 1 == len(lines) or lines[closing + 1] == "")
    blocks = math_blocks(md)
    # seeds/000: y11 = 1·1 + 2·0 + 4·(-1) + 5·1 + 1 = 3, dL/dw11 = 1·1 + 2·2 + 3·4 + 3·5 = 32
    assert any(r"&= 1 \cdot 1 + 2 \cdot 0 + 4 \cdot \left(-1\right) + 5 \cdot 1 + 1 = 3" in b
               for b in blocks)
    assert any(r"&= 1 \cdot 1 + 2 \cdot 2 + 3 \cdot 4 + 3 \cdot 5 = 32" in b for b in blocks)
    assert any(r"\frac{\partial L}{\partial W} = \begin{bmatrix} 32 & 41 \\ 59 & 68 "
               r"\end{bmatrix}" in b for b in blocks)
    assert any(r"\begin{bmatrix} 1 & 2 & 0 \\ 2 & 2 & 2 \\ -3 & 0 & 3 \end{bmatrix}" in b
               for b in blocks)


def test_markdown_escapes_a_name_convgrad_did_not_write():
    problem = {"name": "a_b & $x$ *bold* [link](x) <b>", "input": "1 2; 3 4", "kernel": [[1]],
               "target": "0 0; 0 0"}
    md = write(solved(problem), "markdown")
    assert r"a\_b &amp; \$x\$ \*bold\* \[link\](x) \<b\>" in md
    for block in math_blocks(md):
        assert "bold" not in block


def test_markdown_in_chinese():
    md = write(solved(SEED), "markdown", lang="zh")
    assert md.startswith("# 解答")
    assert "## 前向传播：卷积" in md and "## 结果" in md
    walk = write(solved(SEED), "markdown", explain=True, lang="zh")
    assert "## 第 1 步：题目" in walk and "### 第 3.1 步：$y_{11}$" in walk


def test_markdown_walkthrough_has_explains_steps():
    walk = write(solved(SEED), "markdown", explain=True)
    titles = re.findall(r"^##+ (Step [0-9.]+): (.*)$", walk, flags=re.M)
    numbers = [n for n, _ in titles]
    assert numbers[:3] == ["Step 1", "Step 2", "Step 3"]
    assert ("Step 3.1", "$y_{11}$") in titles
    # the walkthrough marks the cells of y11: the top-left window of X and all of W
    assert r"\boxed{1} & \boxed{2} & 3 \\ \boxed{4} & \boxed{5} & 6 \\ 7 & 8 & 9" in walk


def test_terms_all_and_none_in_markdown():
    none = write(solved(SEED), "markdown", terms="none")
    assert "y_{11} &=" not in none and "not shown (--terms all shows them)" in none
    everything = write(solved(SEED), "markdown", terms="all")
    assert "y_{22} &=" in everything


def big_problem():
    return {"input": [[(i * 7 + j) % 5 for j in range(30)] for i in range(30)],
            "kernel": [[1, 0, -1], [1, 0, -1], [1, 0, -1]], "grad_output": [[1] * 28] * 28}


def test_a_large_problem_is_summarised_as_terms_auto_does():
    result = solved(big_problem())
    for fmt in ("markdown", "latex", "html"):
        text = write(result, fmt)
        assert "784" in text or "780" in text  # "... 780 more, same rule"
        # html writes out what each shown entry is made of (dL/dw11: 784 products)
        assert len(text) < (2_000_000 if fmt == "html" else 400_000), fmt
    md = write(result, "markdown")
    assert r"\cdots" in md and r"\vdots" in md  # a 30 x 30 matrix by its corners
    assert "more terms" in md  # dL/dw11 sums 784 products: the middle elided


# --- latex -----------------------------------------------------------------------------------


def test_latex_document_and_fragment():
    doc = write(solved(SEED), "latex")
    assert doc.startswith(r"\documentclass")
    assert r"\usepackage{amsmath,amssymb}" in doc and doc.rstrip().endswith(r"\end{document}")
    assert r"\setcounter{MaxMatrixCols}" in doc
    packages = re.findall(r"\\usepackage(?:\[[^]]*\])?\{([^}]*)\}", doc)
    assert set(",".join(packages).split(",")) <= {"amsmath", "amssymb", "geometry"}
    fragment = write(solved(SEED), "latex", fragment=True)
    assert r"\documentclass" not in fragment and r"\begin{document}" not in fragment
    assert r"\begin{align*}" in fragment and fragment in doc


def test_latex_in_chinese_uses_cjkutf8():
    doc = write(solved(SEED), "latex", lang="zh")
    assert r"\usepackage{CJKutf8}" in doc and r"\begin{CJK}{UTF8}{gbsn}" in doc
    assert doc.index(r"\begin{CJK}") < doc.index(r"\end{CJK}") < doc.index(r"\end{document}")
    assert "前向传播" in doc


def test_latex_escapes_a_name_and_layer_names():
    problem = {"name": "50% of a_b & c $d$ #1", "input": "1 2; 3 4",
               "layers": [{"conv": {"kernel": [[1]]}}, {"leaky_relu": {"slope": 0.5}}],
               "target": "0 0; 0 0"}
    doc = write(solved(problem), "latex")
    assert r"50\% of a\_b \& c \$d\$ \#1" in doc
    assert r"\mathrm{leaky\_relu1}" in doc
    assert "leaky_relu1" not in doc.replace(r"\_", "")  # no bare _ in a name


@pytest.mark.parametrize("explain", [False, True])
def test_latex_of_a_padded_max_pool_writes_minus_infinity_as_math(explain: bool):
    # pool_padding's cells hold -inf: the English document wrote the character itself,
    # which pdflatex refuses ("Unicode character U+221E not set up for use with LaTeX").
    problem = {"input": "1 2 3; 4 5 6; 7 8 9", "kernel": "1 0; -1 1",
               "pool": {"type": "max", "size": 2, "stride": 1},
               "conventions": {"pool_padding": 1}, "grad_output": "1 1 1; 1 1 1; 1 1 1"}
    doc = write(solved(problem), "latex", explain=explain)
    assert r"-$\infty$" in doc
    assert doc.isascii(), sorted({char for char in doc if not char.isascii()})


def test_latex_text_holds_only_what_pdflatex_typesets():
    # pdflatex stopped on a name holding a Greek letter ("Unicode character α not set up"),
    # an emoji, or a control character that YAML's "\\e" or "\\x01" escapes let in.
    assert texmath.text("rate η, λ, Ω, Α") == r"rate $\eta$, $\lambda$, $\Omega$, A"
    assert texmath.text("a\x01\x1bb\x7f\x85c") == "abc"
    assert texmath.text("✓ 😀 Привет") == "? ? ??????"
    assert texmath.text("Gdańsk ą Übung — “x”") == "Gdańsk a Übung — “x”"
    assert texmath.text("卷积层，步长") == "卷积层，步长"


def test_latex_of_a_name_in_chinese_is_set_in_the_cjk_environment():
    problem = {"name": "第三题", "input": "1 2; 3 4", "kernel": "1", "grad_output": "1 1; 1 1"}
    doc = write(solved(problem), "latex")
    assert r"\usepackage{CJKutf8}" in doc and r"\begin{CJK}{UTF8}{gbsn}" in doc
    assert doc.index(r"\begin{CJK}") < doc.index("第三题") < doc.index(r"\end{CJK}")
    assert r"\begin{CJK}" not in write(solved(SEED), "latex")


def test_long_sums_are_broken_into_lines():
    doc = write(solved("problems/multichannel_relu_maxpool.yaml"), "latex")
    rows = [line for line in doc.splitlines() if r"&\quad +" in line]
    assert rows  # z111's 18 products do not fit on one line


# --- html ------------------------------------------------------------------------------------


class Cells(HTMLParser):
    """The data-term and data-from of every element, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.text: list[str] = []
        self.tags: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        found = dict(attrs)
        if "data-term" in found:
            self.cells.append(found)
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data):
        if not self._skip:
            self.text.append(data)


def parsed(page: str) -> Cells:
    cells = Cells()
    cells.feed(page)
    return cells


def test_html_entries_carry_their_names_and_sources():
    page = write(solved(SEED), "html")
    cells = parsed(page)
    by_term: dict[str, set[str]] = {}
    for cell in cells.cells:
        by_term.setdefault(cell["data-term"], set()).add(cell["data-from"])
    # y11 is the top-left 2x2 window of X times W (seeds/000)
    assert by_term["Y[1,1]"] == {"X[1,1] X[1,2] X[2,1] X[2,2] W[1,1] W[1,2] W[2,1] W[2,2]"}
    # dL/dw11 = sum over outputs of dL/dy · x: every dY entry and the inputs they met
    assert set(next(iter(by_term["dW[1,1]"])).split()) == {
        "X[1,1]", "X[1,2]", "X[2,1]", "X[2,2]", "dY[1,1]", "dY[1,2]", "dY[2,1]", "dY[2,2]"}
    # dL/dx23 = dL/dy12·w22 + dL/dy22·w12
    assert set(next(iter(by_term["dX[2,3]"])).split()) == {"dY[1,2]", "dY[2,2]", "W[2,2]",
                                                           "W[1,2]"}
    assert by_term["X[1,1]"] == {""}
    # every name in a data-from is the data-term of some entry of the page
    names = set(by_term)
    for cell in cells.cells:
        assert set(cell["data-from"].split()) <= names, cell
    assert all(cell.get("tabindex") == "0" for cell in cells.cells)


@pytest.mark.parametrize("bias, b_new, sources", [
    ("1", "b_new", "b db"), ("[1]", "b_new[1]", "b[1] db[1]")])
def test_html_names_the_single_forms_updated_bias_as_check_does(bias, b_new, sources):
    # The single form's bias was named as a network layer's output: b_new's cell carried
    # data-term "b.output_new" and data-from "b.output b.d_output", keys check does not take.
    problem = f"input: '1 2 3; 4 5 6; 7 8 9'\nkernel: '1 0; -1 1'\nbias: {bias}\n" \
              "target: '1 0; 0 1'\nlearning_rate: 1/10\n"
    for explain in (False, True):
        cells = parsed(write(solved(problem), "html", explain=explain)).cells
        terms = {cell["data-term"]: cell["data-from"] for cell in cells}
        assert terms[b_new] == sources
        assert not [term for term in terms if ".output" in term]
    assert "b_new" in convgrad.solve(problem).by_answer_key()  # the key check grades


@pytest.mark.parametrize("explain", [False, True])
def test_html_names_the_cells_a_transposed_convolutions_input_reaches_as_y(explain: bool):
    # x12's kernel copy lands on y[1,1,3], y[1,1,4], y[1,2,3], y[1,2,4] (stride 2, a 2x2
    # kernel: README, Dive into Deep Learning 14.10); they were named after the phrase of
    # the walkthrough's matrix, "matrix.scatter[1,1,3]", which no entry of the page carries.
    cells = parsed(write(solved("problems/conv_transpose.yaml"), "html", explain=explain)).cells
    terms = {cell["data-term"]: cell["data-from"] for cell in cells}
    kernel = {f"conv_transpose1.W[{i},{j}]" for i in (1, 2) for j in (1, 2)}
    assert set(terms["X[1,2]"].split()) == {"X[1,2]", *kernel,
                                            "Y[1,1,3]", "Y[1,1,4]", "Y[1,2,3]", "Y[1,2,4]"}
    assert not [cell for cell in cells if "matrix." in cell["data-term"] + cell["data-from"]]


@pytest.mark.parametrize("layer, key, dy", [
    ("conv: {kernel: '1 0; -1 1', bias: 1}", "conv1", "[[[1, 0], [0, 1]]]"),
    ("conv_transpose: {kernel: '1 0; -1 1', bias: 1}", "conv_transpose1",
     "[[[1, 0, 1, 0], [0, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 1]]]")])
def test_html_names_a_one_layer_networks_parameters_as_check_does(layer: str, key: str,
                                                                   dy: str):
    # The terms of a network of one layer read w11 and b1, and its cells carried dW[1,1],
    # W_new[1,1], b_new[1]: check takes conv1.dW[1,1] (the problem has no top-level dW).
    problem = (f"input: '1 2 3; 4 5 6; 7 8 9'\nlayers:\n  - {layer}\nlearning_rate: 1/10\n"
               f"grad_output: {dy}\n")
    keys = set(convgrad.solve(problem).by_answer_key())
    for explain in (False, True):
        cells = parsed(write(solved(problem), "html", explain=explain)).cells
        terms = {cell["data-term"] for cell in cells}
        assert {f"{key}.dW[1,2]", f"{key}.W_new[1,2]", f"{key}.b_new[1]"} <= terms
        named = {term.split("[")[0] for term in terms}
        assert named - {"X", "target"} <= keys | {f"{key}.W"}, named - keys


def test_html_drops_the_control_characters_of_a_name():
    # YAML's "\a", "\e", "\x01" put control characters into a name; the page held them,
    # a parse error in HTML that XML tools refuse.
    problem = 'name: "bell \\a esc \\e one \\x01 c1 \\x85 end"\ninput: "1 2; 3 4"\n' \
              'kernel: "1"\ngrad_output: "1 1; 1 1"\n'
    control = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
    for explain in (False, True):
        page = write(solved(problem), "html", explain=explain)
        assert "bell  esc  one  c1  end" in page
        assert not control.findall(page)
    assert not control.findall(convgrad.solve(problem)._repr_html_())


def test_html_is_self_contained():
    page = write(solved(SEED), "html")
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"(?:src|href)\s*=", page)
    assert "http://" not in page and "https://" not in page
    assert "default-src 'none'" in page


def test_html_escapes_a_name_convgrad_did_not_write():
    problem = {"name": "<script>alert(1)</script> & \"q\"", "input": "1 2; 3 4",
               "kernel": [[1]], "target": "0 0; 0 0"}
    page = write(solved(problem), "html")
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot;" in page


def test_html_walkthrough_in_steps_and_in_chinese():
    page = write(solved(SEED), "html", explain=True, lang="zh")
    assert page.count('<section class="cg-step">') >= 8
    assert "上一步" in page and "下一步" in page and 'lang="zh-Hans"' in page
    # the sub-steps' cells marked as the terminal marks them with [ ]
    assert 'class="cg-mark"' in page


def test_html_page_text_holds_every_number_with_scripts_off():
    result = convgrad.solve(SEED)
    text = " ".join(parsed(write(solved(SEED), "html")).text)
    tokens = set(re.findall(r"-?[0-9]+(?:/[0-9]+)?", text))
    for key in ("Y", "dY", "dW", "dX"):
        for value in result[key].flat:
            assert str(value) in tokens, (key, value)


# --- the command line ------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "fmt"), [("a.md", "markdown"), ("a.tex", "latex"),
                                           ("a.HTML", "html"), ("a.txt", "text"),
                                           (None, "text")])
def test_format_from_the_file_name(name, fmt):
    assert format_of(name) == fmt


def test_solve_format_markdown_to_standard_output():
    out = run_main("solve", SEED, "--format", "markdown")
    assert out.returncode == 0 and out.stdout.startswith("# Solution")
    assert out.stderr == ""


def test_o_writes_the_file_and_nothing_else(tmp_path: Path):
    for name, start in (("s.md", "# Solution"), ("s.tex", r"\documentclass"),
                        ("s.html", "<!DOCTYPE html>"), ("s.txt", "Problem ─")):
        target = tmp_path / name
        out = run_main("solve", SEED, "-o", target)
        assert out.returncode == 0 and out.stdout == "" and out.stderr == "", out
        assert target.read_text(encoding="utf-8").startswith(start)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.html", "s.md", "s.tex", "s.txt"]


def test_o_text_is_what_solve_prints():
    text = run_main("solve", SEED).stdout
    assert write(solved(SEED), "text") == text


def test_explain_to_a_file_with_format_and_fragment(tmp_path: Path):
    target = tmp_path / "walk.out"
    out = run_main("explain", SEED, "--format", "latex", "--fragment", "--lang", "zh",
                   "--output", target)
    assert out.returncode == 0 and out.stdout == ""
    body = target.read_text(encoding="utf-8")
    assert r"\documentclass" not in body and "第 3.1 步" in body


def test_an_unwritable_path_is_one_line_and_exit_2(tmp_path: Path):
    out = run_main("solve", SEED, "-o", tmp_path / "missing" / "s.md")
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "cannot write" in out.stderr
    folder = run_main("explain", SEED, "-o", tmp_path)
    assert folder.returncode == 2 and folder.stderr.count("\n") == 1


def test_a_failed_write_leaves_the_old_file(tmp_path: Path, monkeypatch):
    target = tmp_path / "s.md"
    target.write_text("old", encoding="utf-8")

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("os.replace", fail)
    out = run_main("solve", SEED, "-o", target)
    assert out.returncode == 2 and "No space left" in out.stderr
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.md"]  # no temporary file left


@pytest.mark.parametrize("args", [["--fragment"], ["--format", "markdown", "--fragment"],
                                  ["--json", "--format", "html"], ["-o", ""],
                                  ["--format", "pdf"]])
def test_contradicting_options_are_usage_errors(args):
    out = run_main("solve", SEED, *args)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.count("\n") == 1, out


def test_solve_lang_zh_in_text():
    out = run_main("solve", SEED, "--lang", "zh")
    assert out.returncode == 0 and "前向传播：卷积" in out.stdout and "结果" in out.stdout


def test_text_output_in_english_is_unchanged_by_the_new_options():
    plain = run_main("solve", SEED).stdout
    assert run_main("solve", SEED, "--format", "text", "--lang", "en").stdout == plain


# --- the Python API --------------------------------------------------------------------------


def test_result_methods():
    result = convgrad.solve(SEED)
    assert result.to_json() == run_main("solve", SEED, "--json").stdout.rstrip("\n")
    assert json.loads(result.to_json())["dW"] == [[32, 41], [59, 68]]
    assert result.to_markdown().startswith("# Solution")
    assert result.to_markdown(lang="zh", explain=True).startswith("# 分步讲解")
    assert result.to_latex().startswith(r"\documentclass")
    assert r"\documentclass" not in result.to_latex(fragment=True)
    assert result.to_html().startswith("<!DOCTYPE html>")
    assert result._repr_markdown_() == result.to_markdown()
    div = result._repr_html_()
    assert div.startswith('<div class="convgrad"') and div.rstrip().endswith("</div>")
    assert "<style>.convgrad" in div.replace("\n", "") and "<html" not in div
    # the mapping of SPEC 4 as before
    assert result["dW"].tolist() == [[32, 41], [59, 68]]


def test_result_methods_check_their_arguments():
    result = convgrad.solve(SEED)
    with pytest.raises(ValueError, match="lang"):
        result.to_markdown(lang="fr")
    values_only = convgrad.Result({"Y": 1})
    assert values_only._repr_html_() is None
    with pytest.raises(ValueError, match="convgrad.solve"):
        values_only.to_html()


@pytest.mark.parametrize("problem", PROBLEMS, ids=lambda p: p.stem)
def test_every_problem_in_every_format(problem):
    result = solved(problem)
    for fmt in ("markdown", "latex", "html"):
        for explain in (False, True):
            for lang in ("en", "zh"):
                assert write(result, fmt, explain=explain, lang=lang)


def test_a_wide_matrix_is_set_smaller_so_that_it_stays_on_the_page():
    from convgrad.render import latex

    narrow = r"X = \begin{bmatrix} 1 & 2 \\ 3 & 4 \end{bmatrix}"
    assert latex._sized_display(narrow) == latex._display(narrow)
    row = " & ".join(["-0.0758582"] * 8)  # fc1's gradient in network_seed004_cnn: 8 columns
    wide = rf"W = \begin{{bmatrix}} {row} \\ {row} \end{{bmatrix}}"
    assert latex._sized_display(wide).startswith("{\\footnotesize\n\\[")
    side_by_side = rf"{wide} \qquad {wide}"  # two such matrices on one line
    assert latex._sized_display(side_by_side).startswith("{\\tiny\n")
    document = write(solved(ROOT / "problems" / "network_seed004_cnn.yaml"), "latex")
    assert "{\\footnotesize\n\\[\n\\frac{\\partial L}{\\partial \\mathrm{fc1.w}}" in document
    # the conventions line may break after each key
    assert r"\text{same\_padding end},\allowbreak\ \text{pool\_ceil false}" in document


# A kernel written as one number is a 0-d result (dW): every format draws it as a 1x1 table
# named as check names it, in the walkthrough too (it once stopped with an IndexError).
SCALAR_KERNEL = ("input: [[1, 2], [3, 4]]\nkernel: \"1/2\"\nbias: 0\n"
                 "target: [[0, 0], [0, 0]]\nloss: sse\n")


@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
@pytest.mark.parametrize("command", ["solve", "explain"])
def test_a_kernel_of_one_number_in_every_format(tmp_path: Path, fmt: str, command: str
                                                ) -> None:
    problem = tmp_path / "scalar.yaml"
    problem.write_text(SCALAR_KERNEL, encoding="utf-8")
    done = run_main(command, problem, "--format", fmt)
    assert done.returncode == 0, done
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    if fmt == "html":
        # dL/dW = sum over the four cells of dY * X = 2*(1/2)*(1+4+9+16) = 30
        assert 'data-term="dW"' in done.stdout and "30" in done.stdout


# --- the walkthrough says in every format what it says in the terminal -----------------------

BIG_LOSS = {"input": [[(i * 3 + j) % 7 for j in range(10)] for i in range(10)],
            "kernel": [[1]], "target": [[0] * 10] * 10, "loss": "mse"}  # 100 loss terms


@pytest.mark.parametrize(("problem", "said", "not_said"), [
    # reflect padding copies input cells: the zeros sentence was the formats' only one
    ("problems/reflect_padding.yaml", "padded with reflect", "Zeros are added"),
    # a transposed convolution's backward steps say where each product goes, not what a
    # number is made of (its forward steps do say that)
    ("problems/conv_transpose.yaml", "where the products go", "the cells this number is made of"),
    # a loss of 100 terms shows 4 and says how many more follow (100 - 4 = 96)
    (BIG_LOSS, "96 more, same rule", "Zeros are added"),
])
@pytest.mark.parametrize("fmt", ["markdown", "latex", "html"])
def test_the_walkthrough_in_every_format_says_what_the_terminal_says(tmp_path: Path, problem,
                                                                      said, not_said, fmt):
    if isinstance(problem, dict):
        path = tmp_path / "problem.yaml"
        path.write_text(json.dumps(problem))
        problem = path
    else:
        problem = ROOT / problem
    terminal = run_main("explain", problem)
    assert terminal.returncode == 0, terminal
    assert said in terminal.stdout
    written = run_main("explain", problem, "--format", fmt)
    assert written.returncode == 0, written
    text = written.stdout.replace("\\ ", " ").replace("~", " ")
    # each sentence as often as the terminal says it
    for words in (said, not_said):
        assert text.count(words) == terminal.stdout.count(words), (fmt, words)
