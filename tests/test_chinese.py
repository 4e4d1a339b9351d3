"""--lang zh, as a student who learnt from the Chinese seed tutorials reads it: every sentence has
its Chinese, the tutorials' own terms (卷积核, 步长, 填充, 最大池化, 反向传播 ...), and no English
words left inside the Chinese, in the formulas either (relu'(z) = 1 if z > 0, else 0 was English
in every format); the English output keeps its words."""

from __future__ import annotations

import re
from fractions import Fraction
from string import Formatter

import pytest

from convgrad.render import terminal, texmath
from convgrad.render.words import WORDS, formulas_in, say
from convgrad.trace import Form

from .conftest import run_main

SEED = "problems/seed_worked_example.yaml"
CJK = re.compile("[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")  # Chinese, its punctuation
WORD = re.compile(r"[A-Za-z][A-Za-z0-9_']*")  # a word, or a name such as mean1

# English words of sentences, never of a key, a name or a formula convgrad writes: none of them
# may be left in the Chinese output
ENGLISH = {"the", "of", "if", "else", "where", "over", "at", "and", "with", "more", "terms",
           "pooling", "samples", "sample", "positions", "position", "channels", "outputs",
           "probabilities", "floor", "shows", "them", "each", "filter", "channel", "kernel",
           "stride", "padding", "step", "problem", "forward", "backward", "solution",
           "walkthrough", "mean"}


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(text) if name}


def english_words(text: str) -> set[str]:
    """The English words of `text` outside its problem's name (which is the author's), the
    names of the mean and variance of batch normalisation (batch_norm1.mean, a result's key),
    options (--terms) and a page's markup and code."""
    text = "\n".join(line for line in text.splitlines()
                     if "题目" not in line and "解答" not in line and "分步讲解" not in line)
    text = re.sub(r"<(script|style)>.*?</\1>|<[^>]*>", " ", text, flags=re.S)  # a page's code
    text = text.replace("\\_", "_")  # same\_padding in TeX is the key same_padding
    text = re.sub(r"--\w+|[\w.\[\]]*\.(mean|var)\b", "", text)  # options: --terms all
    return {w.lower() for w in WORD.findall(text)} & ENGLISH


# --- the tables -------------------------------------------------------------------------------


def test_every_sentence_has_its_chinese_with_the_same_fields():
    for key, (en, zh) in WORDS.items():
        assert zh.strip(), key
        if en == "{message}":  # a warning: its English message, said in Chinese from its data
            assert fields(zh) <= {"layer", "axis", "positions"}, key
            continue
        # English alone says "filter{s}"; crop.both's Chinese names the width too
        assert fields(en) - {"s"} <= fields(zh), key
        assert fields(zh) - fields(en) <= ({"w"} if key == "crop.both" else set()), key
        if not CJK.search(zh):  # a formula or punctuation: no word that is not the English's
            assert set(WORD.findall(zh)) <= set(WORD.findall(en)), key


@pytest.mark.parametrize("module", [terminal, texmath])
def test_every_formula_with_words_has_its_chinese(module):
    for table in ("LOSS_FORMULAS", "LOSS_DERIVATIVES", "ACTIVATION_FORMULAS",
                  "ACTIVATION_DERIVATIVES"):
        en, zh = getattr(module, table), getattr(module, table + "_ZH")
        assert set(zh) <= set(en), table
        for key, formula in en.items():
            words = set(WORD.findall(re.sub(r"\\text\{([^}]*)\}", r" \1 ", formula)))
            if words & {"if", "else", "over", "the", "where", "probabilities"}:
                assert key in zh, (table, key)
        for key, formula in zh.items():
            assert CJK.search(formula), (table, key)
            assert not english_words(formula.replace("\\text", "")), (table, key)
            # the slope and the derivative at the kink are filled in as in English
            for mark in ("slope", "SLOPE", "KINK"):
                assert (mark in formula) >= (mark in en[key]), (table, key, mark)


def test_formulas_are_english_outside_a_chinese_document():
    form = Form("activation_derivative", ("relu", 0))
    assert terminal.plain_text(form) == "relu'(z) = 1 if z > 0, else 0 (0 at z = 0)"
    with formulas_in("zh"):
        assert terminal.plain_text(form) == "relu'(z) = 1（z > 0 时），否则为 0（z = 0 处取 0）"
        assert texmath.math(form) == (r"\operatorname{relu}'(z) = 1 \text{（} z > 0 \text{ 时），"
                                      r"否则为 } 0 \text{（} z = 0 \text{ 处取 } 0\text{）}")
    assert terminal.plain_text(form) == "relu'(z) = 1 if z > 0, else 0 (0 at z = 0)"


def test_the_derivative_at_the_kink_is_said_in_chinese_formulas_as_in_english():
    # leaky_relu with slope 1/10 and kink 1 (SPEC section 7): the derivative at z = 0 is 1
    form = Form("activation_derivative", ("leaky_relu", Fraction(1, 10), 1))
    assert terminal.plain_text(form).endswith("else 1/10 (1 at z = 0)")
    with formulas_in("zh"):
        assert terminal.plain_text(form).endswith("否则为 1/10（z = 0 处取 1）")
        tex = texmath.math(form)
    assert r"z = 0 \text{ 处取 } 1\text{）}" in tex and "KINK" not in tex and "SLOPE" not in tex


# --- the seed problems, every format -----------------------------------------------------------

FORMATS = ("text", "markdown", "latex", "html")
PROBLEMS = ("seed_worked_example", "stride2_5x5", "multichannel_relu_maxpool",
            "network_seed004_cnn", "fractions_and_strings", "batch_cs231n_two_images",
            "log_softmax_nll", "segmentation_over_channels", "batch_norm", "reflect_padding")


def output(command: str, name: str, fmt: str, lang: str) -> str:
    out = run_main(command, f"problems/{name}.yaml", "--lang", lang, "--format", fmt)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", PROBLEMS)
def test_no_english_words_inside_the_chinese(name, fmt):
    for command in ("solve", "explain"):
        text = output(command, name, fmt, "zh")
        assert not english_words(text), (command, english_words(text))
        assert "max 池化" not in text and "avg 池化" not in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_english_keeps_its_formula_words(fmt):
    text = output("explain", "network_seed004_cnn", fmt, "en")
    assert "max pooling 2x2" in text
    assert re.search(r"1 (\\text\{ )?if", text) and "else" in text
    text = output("solve", "batch_cs231n_two_images", fmt, "en")
    assert "over the" in text and "sample" in text


def test_the_seed_tutorials_terms_and_numbers():
    # seeds/000: one 3x3 input, a 2x2 kernel, stride 1, no padding, MSE; its numbers
    text = output("explain", "seed_worked_example", "text", "zh")
    for term in ("卷积核", "步长", "填充", "偏置", "前向传播", "反向传播", "损失", "均方误差"):
        assert term in text, term
    for formula in ("= 1·1 + 2·0 + 4·(-1) + 5·1 + 1 = 3", "= 1/4·[(3-1)² + (4-0)² + (6-0)² + "
                    "(7-1)²] = 23", "= 1·1 + 2·2 + 3·4 + 3·5 = 32", "= 1 + 2 + 3 + 3 = 9"):
        assert formula in text
    # seeds/004's network: conv, ReLU, max pooling, a fully connected layer, cross-entropy
    text = output("explain", "network_seed004_cnn", "text", "zh")
    for term in ("最大池化", "全连接", "链式法则", "交叉熵", "梯度"):
        assert term in text, term
    # the output size as the tutorials round it, not the English word floor
    assert "conv1：Ho = ⌊(4 + 0 + 0 - 1·(2-1) - 1) / 1⌋ + 1 = 3" in text


@pytest.mark.parametrize("fmt", FORMATS)
def test_chinese_lists_and_titles_take_chinese_punctuation(fmt):
    text = output("solve", "multichannel_relu_maxpool", fmt, "zh")
    assert "滤波器 1，通道 1" in text and "滤波器 1, 通道" not in text
    if fmt != "text":  # the terminal has no title with the problem's name
        assert "解答：2-channel" in text and "解答: " not in text
    assert "切片 （" not in text


def test_a_long_sum_says_how_many_terms_are_left_out_in_chinese():
    problem = {"input": [[1] * 12] * 12, "kernel": [[1] * 3] * 3, "grad_output": [[1] * 10] * 10}
    with formulas_in("zh"):
        zh = [say("more.terms", "zh", n=96)]
    assert zh == ["（还有 96 项）"]
    from convgrad.engine import run
    from convgrad.reader import load_problem
    from convgrad.render.formats import write

    solved = run(load_problem(problem))
    for fmt in FORMATS:
        zh_text, en_text = write(solved, fmt, lang="zh"), write(solved, fmt)
        # dL/dw11 sums 100 products: the middle 96 are left out under --terms auto
        assert "还有 96 项" in zh_text and "more terms" not in zh_text, fmt
        assert "(96 more terms)" in en_text, fmt


def test_notes_take_the_brackets_of_their_language():
    zh, en = (output("explain", "network_seed004_cnn", "text", lang) for lang in ("zh", "en"))
    # the winner of pool1's first window, relu1[1,1,1] = 1 (seeds/004: max(1, 0, 0, 0))
    assert "= max(1, 0, 0, 0) = 1   （来自 relu1[1,1,1]）" in zh and "(来自" not in zh
    assert "= max(1, 0, 0, 0) = 1   (from relu1[1,1,1])" in en
    assert output("solve", "seed_worked_example", "text", "zh").endswith("（精确分数）\n")
    assert output("solve", "seed_worked_example", "text", "en").endswith("(exact fractions)\n")
    text = output("explain", "reflect_padding", "text", "zh")
    assert "X 按 reflect 方式填充后（括号内为填充：输入格的副本）" in text


def test_warnings_about_input_rows_are_said_in_chinese_from_their_data():
    # 5x5, 1x1 kernel, stride 2: rows and columns 2 and 4 never meet the kernel; the 2x2 pool
    # at stride 2 on the 3x3 output drops its row and column 3
    problem = {"input": [[r * 5 + c for c in range(5)] for r in range(5)], "kernel": 1,
               "stride": 2, "pool": {"type": "max", "size": 2}, "grad_output": [[1]]}
    from convgrad.engine import run
    from convgrad.reader import load_problem
    from convgrad.render.formats import write

    from .test_explain import walkthrough

    solved = run(load_problem(problem))
    for fmt in FORMATS:
        if fmt == "text":  # on a console wide enough that no sentence is cut
            zh, en = walkthrough(problem, "zh"), walkthrough(problem, "en")
        else:
            zh, en = write(solved, fmt, explain=True, lang="zh"), write(solved, fmt, explain=True)
        assert "警告：" in zh and "Warnings:" in en, fmt
        assert "conv1：输入第 2、4 行对输出没有任何贡献" in zh, fmt
        assert "pool1：输入第 3 列落在每个池化窗口之外，被丢弃，其梯度为 0" in zh, fmt
        assert "dL/dx 为 0（conv1：输入第 2、4 行；conv1：输入第 2、4 列）" in zh, fmt
        assert "never meet" not in zh and "outside every window" not in zh, fmt
        assert "conv1: input rows 2, 4 never meet the kernel" in en, fmt


def test_the_command_line_warns_in_the_language_asked_for(tmp_path):
    path = tmp_path / "stride2.yaml"
    path.write_text('input: "0 1 2 3 4; 5 6 7 8 9; 10 11 12 13 14; 15 16 17 18 19; 20 21 22 23 '
                    '24"\nkernel: "1"\nstride: 2\ngrad_output: "1 1 1; 1 1 1; 1 1 1"\n',
                    encoding="utf-8")
    for command in ("solve", "explain"):
        zh = run_main(command, path, "--lang", "zh")
        why = ("对输出没有任何贡献（没有窗口让它与卷积核相乘，或它只落在被裁掉的填充上），"
               "其 dL/dX 为 0")
        assert zh.returncode == 0 and zh.stderr.splitlines() == [
            f"警告：conv1：输入第 2、4 行{why}", f"警告：conv1：输入第 2、4 列{why}"], zh.stderr
        en = run_main(command, path)
        assert en.stderr.startswith("warning: conv1: input rows 2, 4 never meet the kernel"), en


def test_the_training_steps_name_their_filters_and_channels_in_chinese(tmp_path):
    # solve's list of training rounds titled each slice of a kernel in English ("steps[1].W_new,
    # filter 1, channel 2") inside the Chinese
    problem = tmp_path / "two_channels.yaml"
    problem.write_text("input: [[[1, 2, 3], [4, 5, 6], [7, 8, 9]], [[1, 0, 1], [0, 1, 0], "
                       "[1, 0, 1]]]\n"
                       "kernel: [[[[1, 0], [-1, 1]], [[0, 1], [1, 0]]]]\n"
                       "bias: [1]\ntarget: \"1 0; 0 1\"\nloss: mse\n"
                       "learning_rate: \"1/200\"\nsteps: 2\n", encoding="utf-8")
    for fmt in FORMATS:
        out = run_main("solve", problem, "--lang", "zh", "--format", fmt)
        assert out.returncode == 0, out.stderr
        assert not english_words(out.stdout), (fmt, english_words(out.stdout))
        assert "通道 2" in out.stdout, fmt
    out = run_main("solve", problem, "--lang", "zh")
    assert "steps[2].W_new，滤波器 1，通道 2" in out.stdout
