"""Requirements no variant can meet (SPEC section 9) answer at once, naming why: `uncovered`
when every stride the template allows is within the kernel's reach, `{distinguishes: [KEY]}`
when no value of KEY can change a result of the problem (no max pooling for max_ties, no
padding under an average pool for avg_count_padding...), decided over every choice the
template allows; a search that gives up names the keys never distinguished."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import one_line, run_main, write

# 6x6 input, 3x3 kernel with padding 1 (6x6 out), leaky ReLU, 2x2 average pool with stride 2
# (3x3 out, nothing left over, no pool padding): no max pooling, no channels, no dense layer.
WEEK6 = """\
name: 6x6 input, 3x3 kernel, pad 1, leaky ReLU, 2x2 avg pool
input: {shape: [6, 6], entries: {int: [-2, 2]}}
kernel: {shape: [3, 3], entries: {choice: [-1, 0, 1, "1/2", "-1/2"]}}
bias: {fraction: [-1, 1], denominators: [2]}
stride: 1
padding: 1
activation: {name: leaky_relu, slope: 0.1}
pool: {type: avg, size: 2, stride: 2}
target: {shape: [3, 3], entries: {int: [0, 2]}}
loss: half_sse
require: [REQUIRE]
"""

STRIDES = """\
input: {shape: [SIZE, SIZE], entries: {int: [-2, 2]}}
kernel: {shape: [2, 2], entries: {int: [-1, 1]}}
stride: {choice: STRIDES}
require: [uncovered]
"""


def generate(tmp_path: Path, text: str, count: int = 2) -> tuple[int, str, None]:
    """(exit code, the error line or the output, None). Refused "at once" is told by the
    message ("cannot be met: <why>", decided from the template before any variant is
    drawn), never by the clock: the search that gives up says "met too rarely"."""
    template = write(tmp_path, "t.yaml", text)
    done = run_main("generate", template, "--count", count, "--seed", 3,
                    "--out", tmp_path / "out")
    return done.returncode, one_line(done) if done.returncode else done.stdout, None


@pytest.mark.parametrize("key, why", [
    ("max_ties", "the problem has no max pooling"),
    ("avg_count_padding", "no average pooling has padding"),
    ("pool_ceil", "every pooling's sizes divide evenly"),
    ("same_padding", "no padding is 'same'"),
    ("layout", "the input, target and kernels are matrices, without channels"),
    ("kernel_layout", "every kernel is one matrix"),
    ("flatten", "no flatten of more than one channel"),
    ("dense_weights", "the problem has no dense layer"),
    ("index_base", "index_base numbers the entries and changes no value"),
])
def test_a_convention_that_cannot_matter_is_named_at_once(tmp_path: Path, key: str,
                                                          why: str) -> None:
    code, line, _ = generate(tmp_path, WEEK6.replace("REQUIRE",
                                                           f"{{distinguishes: [{key}]}}"))
    assert code == 2
    assert f"require {{distinguishes: [{key}]}} cannot be met: {why}" in line, line
    assert f"drop {key} from it" in line and "too rarely" not in line, line


def test_the_key_that_cannot_matter_is_named_among_others(tmp_path: Path) -> None:
    code, line, _ = generate(tmp_path, WEEK6.replace(
        "REQUIRE", "{distinguishes: [conv, max_ties]}"))
    assert code == 2 and "{distinguishes: [max_ties]} cannot be met" in line, line


def test_a_convention_some_choice_makes_matter_is_searched(tmp_path: Path) -> None:
    text = WEEK6.replace("pool: {type: avg, size: 2, stride: 2}",
                         "pool: {type: {choice: [avg, max]}, size: 2, stride: 2}")
    text = text.replace("{int: [-2, 2]}}", "{int: [0, 1]}}", 1)  # ties are common
    code, out, _ = generate(tmp_path, text.replace("REQUIRE", "{distinguishes: [max_ties]}"))
    assert code == 0, out
    for folder in ("001", "002"):
        problem = (tmp_path / "out" / folder / "problem.yaml").read_text(encoding="utf-8")
        assert "type: max" in problem


@pytest.mark.parametrize("size, strides", [(4, "[1]"), (4, "[1, 2]"), (6, "[1, 2]")])
def test_uncovered_with_every_stride_within_the_kernel_is_named_at_once(
        tmp_path: Path, size: int, strides: str) -> None:
    # a 2x2 kernel at stride 1 or 2 reads every cell of a 4x4 or 6x6 input (by hand: windows
    # start at 0, 2, 4 and reach 0-1, 2-3, 4-5)
    code, line, _ = generate(tmp_path, STRIDES.replace("SIZE", str(size))
                                   .replace("STRIDES", strides))
    assert code == 2
    assert "require uncovered cannot be met: every stride the template allows is within " \
        "the kernel's reach" in line, line
    assert "stride 3 with a 2x2 kernel" in line and "too rarely" not in line, line


def test_uncovered_with_one_stride_past_the_kernel_is_searched(tmp_path: Path) -> None:
    # stride 3 on a 5x5 input: windows at 0 and 3 read 0-1 and 3-4, never row or column 2
    code, out, _ = generate(tmp_path, STRIDES.replace("SIZE", "5")
                            .replace("STRIDES", "[1, 3]"))
    assert code == 0, out
    for folder in ("001", "002"):
        problem = (tmp_path / "out" / folder / "problem.yaml").read_text(encoding="utf-8")
        assert "stride: 3" in problem


def test_no_relu_and_no_max_pool_are_named_at_once(tmp_path: Path) -> None:
    text = WEEK6.replace("{name: leaky_relu, slope: 0.1}", "sigmoid")
    code, line, _ = generate(tmp_path, text.replace("REQUIRE", "relu_kink"))
    assert code == 2 and "require relu_kink cannot be met: the problem has no ReLU" in line
    code, line, _ = generate(tmp_path, text.replace("REQUIRE", "{distinguishes: [kink]}"))
    assert code == 2 and "{distinguishes: [kink]} cannot be met: the problem has no ReLU" \
        in line, line


def test_a_search_that_gives_up_names_the_keys_never_distinguished(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import convgrad.generate as gen

    monkeypatch.setattr(gen, "MAX_TRIES_PER_VARIANT", 15)
    # a symmetric kernel: flipping it (conv: convolution) never changes dY or dX (dW would be
    # flipped), though it is 3x3; max_ties is distinguished by the many ties of 0/1 inputs
    text = WEEK6.replace("{shape: [3, 3], entries: {choice: [-1, 0, 1, \"1/2\", \"-1/2\"]}}",
                         "[[1, 0, 1], [0, 1, 0], [1, 0, 1]]")
    text = text.replace("{int: [-2, 2]}}", "{int: [0, 1]}}", 1)
    text = text.replace("type: avg", "type: max").replace("loss: half_sse",
                                                          "loss: half_sse\ngraded: [dY, dX]")
    code, line, _ = generate(tmp_path, text.replace(
        "REQUIRE", "{distinguishes: [max_ties, conv]}"), count=1)
    assert code == 2
    assert "require {distinguishes: [conv]} is met too rarely: 15 of 15 tries missed it " \
        "(conv changed no graded result in any)" in line, line
