"""Confidence: logistic calibration on val, a threshold that respects the accuracy budget."""

from __future__ import annotations

import random

from pdfqa.confidence import Calibration, Signals, choose_threshold, fit_logistic, reliability_table


def _data(n=200, seed=0):
    rng = random.Random(seed)
    signals, labels = [], []
    for _ in range(n):
        good = rng.random() < 0.5
        top = rng.gauss(0.85 if good else 0.75, 0.04)
        signals.append(Signals(top, rng.gauss(0.05, 0.02), rng.gauss(0.6 if good else 0.4, 0.1)))
        labels.append(int(good))
    return signals, labels


def test_logistic_calibration_orders_and_separates():
    signals, labels = _data()
    weights, means, scales = fit_logistic(signals, labels)
    calibration = Calibration(0.5, weights=weights, means=means, scales=scales)
    scores = [calibration.score(s) for s in signals]
    assert all(0 <= s <= 1 for s in scores)
    accuracy = sum((s >= 0.5) == bool(y) for s, y in zip(scores, labels, strict=True)) / len(labels)
    assert accuracy > 0.85
    restored = Calibration(**calibration.to_dict())
    assert abs(restored.score(signals[0]) - scores[0]) < 1e-4


def test_uncalibrated_blend_stays_in_unit_interval():
    assert abs(Calibration(0.3, retrieval_weight=0.5).score(Signals(0.8, 0.1, 0.4)) - 0.6) < 1e-9
    assert Calibration(0.3).score(Signals(1.5, 0.1, 1.5)) == 1.0


def test_threshold_maximises_abstention_recall_within_the_accuracy_budget():
    # answerable questions: confident when correct; unanswerable: low confidence
    scores = [0.9, 0.8, 0.7, 0.35, 0.2, 0.1, 0.3]
    answerable = [True, True, True, True, False, False, False]
    correct = [True, True, True, False, False, False, False]
    threshold = choose_threshold(scores, answerable, correct, [False] * 7, max_answerable_drop=0.0)
    assert 0.3 < threshold <= 0.7  # abstains on all three unanswerable, keeps every correct answer
    strict = choose_threshold([0.9, 0.1], [True, False], [False, False], [False, False], 0.0)
    assert strict == 0.9 or strict > 0.1


def test_reliability_table_and_ece():
    rows, ece = reliability_table([0.1, 0.15, 0.9, 0.95], [False, False, True, True], bins=5)
    assert [r["n"] for r in rows] == [2, 0, 0, 0, 2]
    assert rows[0]["accuracy"] == 0.0 and rows[-1]["accuracy"] == 1.0
    assert 0 < ece < 0.2
