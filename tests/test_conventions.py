"""Conventions as choices (SPEC section 7): the `conventions` mapping, the profiles,
`--conventions NAME`, and the conventions stated in every output."""

from __future__ import annotations

import json
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import convgrad
from convgrad import reference as ref
from convgrad.cli import main
from convgrad.model import PROFILES, Conventions

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "problems" / "seed_worked_example.yaml"
SEED_TEXT = SEED.read_text(encoding="utf-8")

# SPEC section 7's two tables, written here from the SPEC, not from the code.
DEFAULTS = {"same_padding": "end", "pool_ceil": False, "pool_padding": 0,
            "avg_count_padding": True, "max_ties": "first", "kink": 0, "layout": "NCHW",
            "kernel_layout": "OIHW", "flatten": "CHW", "dense_weights": "out_in",
            "conv": "cross_correlation", "index_base": 1}
TABLE = {
    "same_padding": ("end", "end", "symmetric", "symmetric", "symmetric", "end"),
    "pool_ceil": (False, False, True, False, False, False),
    "avg_count_padding": (True, False, True, True, True, True),
    "max_ties": ("first", "first", "first", "first", "all", "first"),
    "kink": (0, 0, 0, 0, 0, 0),
    "layout": ("NCHW", "NHWC", "NCHW", "NCHW", "NHWC", "NCHW"),
    "kernel_layout": ("OIHW", "HWIO", "OIHW", "OIHW", "HWIO", "OIHW"),
    "flatten": ("CHW", "HWC", "CHW", "CHW", "HWC", "CHW"),
    "dense_weights": ("out_in", "in_out", "out_in", "in_out", "in_out", "out_in"),
    "conv": ("cross_correlation",) * 5 + ("convolution",),
    "index_base": (1, 1, 1, 0, 1, 1),
}
NAMES = ("pytorch", "tensorflow", "caffe", "cs231n", "coursera", "textbook")


@pytest.mark.parametrize("k, name", list(enumerate(NAMES)))
def test_each_profile_has_spec_values(k, name):
    assert set(PROFILES) == set(NAMES)
    profile = Conventions.of_profile(name)
    assert profile.profile == name
    for key, column in TABLE.items():
        assert getattr(profile, key) == column[k], (name, key)
    assert profile.pool_padding == 0  # no profile changes it


def test_the_default_is_pytorch_and_every_output_states_it(capsys):
    result = convgrad.solve(SEED)
    assert result["conventions"] == {"profile": "pytorch", **DEFAULTS}
    assert main(["solve", str(SEED), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["conventions"] == {"profile": "pytorch", **DEFAULTS}
    assert list(doc)[-2:] == ["conventions", "exact"]  # after the results; not repeated exactly
    assert "conventions" not in doc["exact"]
    assert main(["solve", str(SEED)]) == 0
    assert ("Conventions (pytorch): same_padding end, pool_ceil false, pool_padding 0, "
            "avg_count_padding true, max_ties first, kink 0, layout NCHW, kernel_layout OIHW, "
            "flatten CHW, dense_weights out_in, conv cross_correlation, index_base 1"
            ) in capsys.readouterr().out
    assert main(["explain", str(SEED)]) == 0  # the walkthrough's first step
    assert "Conventions (pytorch): same_padding end" in capsys.readouterr().out
    assert main(["solve", str(SEED), "--lang", "zh"]) == 0
    assert "约定（pytorch）" in capsys.readouterr().out


def test_textbook_convolution_flips_the_kernel():
    """conv: convolution is flip_kernel: true (Goodfellow et al. 9.1); dW is still reported
    for W as written: the twin with the kernel rotated, its gradient rotated back."""
    textbook = convgrad.solve(SEED_TEXT + "conventions: {profile: textbook}\n")
    flipped = convgrad.solve(SEED_TEXT + "flip_kernel: true\n")
    own = convgrad.solve(SEED_TEXT + "conventions: {conv: convolution}\n")
    for key in ("Y", "dW", "dX", "loss"):
        np.testing.assert_array_equal(textbook[key], flipped[key])
        np.testing.assert_array_equal(own[key], flipped[key])
    x = np.array([[[1, 2, 3], [4, 5, 6], [7, 8, 9]]], dtype=object)
    w = np.array([[[[1, 0], [-1, 1]]]], dtype=object)
    z = ref.conv_forward(x, w[:, :, ::-1, ::-1], np.array([1], dtype=object), (1, 1),
                         (0, 0, 0, 0), (1, 1))
    np.testing.assert_array_equal(textbook["Y"], z[0])
    assert textbook["conventions"]["conv"] == "convolution"
    assert textbook["conventions"]["profile"] == "textbook"


@pytest.mark.parametrize("profile", ["tensorflow", "coursera"])
def test_a_profile_leaves_a_default_outside_its_keys_as_spec_s(profile):
    """SPEC 7: a profile changes only the convention keys; a default the problem leaves out
    stays SPEC's: leaky_relu's slope is 0.01 under the Keras profiles too (Keras' own 0.3 is
    not taken). z = -1 gives y = -0.01 and dL/dz = 0.01 (dL/dy = 1)."""
    text = ("input: [[-1]]\nkernel: [[1]]\nactivation: leaky_relu\ngrad_output: [[1]]\n"
            f"conventions: {{profile: {profile}}}\n")
    result = convgrad.solve(text)
    assert result["conventions"]["profile"] == profile
    assert np.ravel(result["Y"]).tolist() == [Fraction(-1, 100)]
    assert np.ravel(result["dZ"]).tolist() == [Fraction(1, 100)]


def test_the_command_line_profile_replaces_the_files_and_keeps_its_own_keys(capsys):
    text = SEED_TEXT + "conventions: {profile: pytorch, conv: convolution}\n"
    result = convgrad.solve(text, conventions="textbook")
    assert result["conventions"]["profile"] == "textbook"
    assert convgrad.solve(text)["conventions"]["conv"] == "convolution"
    assert main(["solve", str(SEED), "--json", "--conventions", "textbook"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["conventions"]["profile"] == "textbook" and doc["dW"] == [[96, 83], [57, 44]]


@pytest.mark.parametrize("conventions, words", [
    ("tensorflow", ["not a known key"]),
    ({"profile": "tensorflw"}, ["'conventions.profile'", "did you mean 'tensorflow'"]),
    ({"max_tie": "all"}, ["'conventions.max_tie' is not a known key", "max_ties"]),
    ({"pool_ceil": "yes"}, ["'conventions.pool_ceil' must be true or false"]),
    ({"kink": 2}, ["'conventions.kink' is 2; kink is one of 0, 1, 1/2"]),
    ({"index_base": "one"}, ["index_base is one of 1, 0"]),
    ({"layout": "NWHC"}, ["'NWHC' is not a layout convention", "NHWC"]),
    ({"pool_padding": -1}, ["'conventions.pool_padding' must be pool_padding"]),
])
def test_bad_conventions_say_what_is_wrong(conventions, words):
    text = SEED_TEXT + "conventions: " + json.dumps(conventions) + "\n"
    if conventions == "tensorflow":  # a word where a mapping belongs
        text = SEED_TEXT + "conventions: tensorflow\n"
        words = ["'conventions' must be a mapping"]
    with pytest.raises(convgrad.ProblemError) as caught:
        convgrad.solve(text)
    for word in words:
        assert word in str(caught.value)
    assert f"line {SEED_TEXT.count(chr(10)) + 1}" in str(caught.value)


def test_conv_and_flip_kernel_together_are_refused(capsys):
    text = SEED_TEXT + "flip_kernel: false\nconventions: {conv: convolution}\n"
    with pytest.raises(convgrad.ProblemError, match="'flip_kernel' and the convention 'conv' "
                                                    "both say"):
        convgrad.solve(text)
    assert main(["solve", str(SEED), "--conventions", "pytorh"]) == 2
    assert "--conventions pytorh: not a profile; did you mean 'pytorch'?" in \
        capsys.readouterr().err


@pytest.mark.parametrize("name", NAMES)
def test_every_profile_is_computed_none_refused(name):
    # Every key of every profile is computed: the seed's one conv solves under each, and a
    # flatten key given on its own is taken (it changes nothing without a flatten layer).
    assert convgrad.solve(SEED, conventions=name)["conventions"]["profile"] == name
    result = convgrad.solve(SEED_TEXT + "conventions: {flatten: HWC}\n")
    assert result["conventions"]["flatten"] == "HWC"
    np.testing.assert_array_equal(result["dW"], convgrad.solve(SEED)["dW"])


def test_check_takes_the_conventions_too(tmp_path: Path, capsys):
    answers = tmp_path / "answers.yaml"
    answers.write_text("dW: [[96, 83], [57, 44]]\n", encoding="utf-8")  # W rotated
    assert main(["check", str(SEED), str(answers)]) == 1
    assert main(["check", str(SEED), str(answers), "--conventions", "textbook"]) == 0
