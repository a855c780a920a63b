"""Paired statistics for the A/B test, checked against values worked out by hand."""

import math

import pytest

from pdfqa.lifecycle import holm, minimum_detectable_effect, paired_test


def test_exact_sign_flip_p_value_on_six_questions():
    # challenger right on 5, champion on 2; they differ on 3 questions, all for the challenger.
    # Of the 2^3 sign patterns of the discordant questions, 2 are as extreme: p = 2/8.
    result = paired_test([1, 1, 1, 0, 1, 1], [0, 0, 1, 0, 0, 1], seed=1)
    assert result["exact"] and result["n"] == 6
    assert result["difference"] == pytest.approx(0.5)
    assert result["p_value"] == pytest.approx(0.25)
    assert result["ci_low"] <= 0.5 <= result["ci_high"]


def test_exact_p_value_with_one_question_against():
    # six discordant questions, five for the challenger: |sum| >= 4 in 1 + 6 + 6 + 1 of 64 flips
    result = paired_test([1, 1, 1, 1, 1, 0], [0, 0, 0, 0, 0, 1])
    assert result["p_value"] == pytest.approx(14 / 64)


def test_randomised_p_value_is_never_zero_and_reproducible():
    a, b = [1.0] * 30, [0.0] * 30
    a[0] = 0.0
    first = paired_test(a, b, resamples=999, seed=7)
    assert not first["exact"]
    assert 0 < first["p_value"] <= 2 / 1000  # (k + 1) / (B + 1)
    assert first == paired_test(a, b, resamples=999, seed=7)


def test_identical_systems_and_the_p95_statistic():
    same = paired_test([0.2, 0.4, 0.9], [0.2, 0.4, 0.9])
    assert same["difference"] == 0 and same["p_value"] == 1.0
    latency = paired_test([100, 110, 120, 400], [100, 110, 120, 130], statistic="p95")
    # numpy's linear p95 of 4 values sits 0.85 of the way from the 3rd to the 4th
    assert latency["difference"] == pytest.approx((120 + 0.85 * 280) - (120 + 0.85 * 10))
    with pytest.raises(ValueError):
        paired_test([1, 2], [1])


def test_holm_adjustment_by_hand():
    # sorted 0.01, 0.03, 0.04 → ×3, ×2, ×1 = 0.03, 0.06, 0.04 → monotone 0.03, 0.06, 0.06
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0]
    assert holm([]) == []


def test_minimum_detectable_effect_by_hand():
    diffs = [1.0] * 25 + [0.0] * 25  # sd = sqrt(12.5 / 49)
    expected = (1.959964 + 0.841621) * math.sqrt(12.5 / 49) / math.sqrt(50)
    assert minimum_detectable_effect(diffs) == pytest.approx(expected, rel=1e-5)
    assert (
        minimum_detectable_effect([0.0] * 50) > 0
    )  # no change observed is not "any change detectable"
    assert minimum_detectable_effect([1.0]) == math.inf
