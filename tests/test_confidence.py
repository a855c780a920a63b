"""Confidence: logistic calibration on val; the abstention gate (cross-validated, bagged threshold)."""

from __future__ import annotations

import random

from pdfqa.generation.confidence import (
    FEATURES,
    Calibration,
    Signals,
    fit_gate,
    fit_logistic,
    question_coverage,
    reliability_table,
)


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


def _gate_data(n, seed, unanswerable_share=0.25):
    rng = random.Random(seed)
    signals, answerable = [], []
    for _ in range(n):
        ok = rng.random() > unanswerable_share
        signals.append(Signals(rng.gauss(0.85 if ok else 0.8, 0.03), rng.gauss(0.05, 0.02), 0.5,
                               rng.gauss(0.9 if ok else 0.45, 0.12)))  # fmt: skip
        answerable.append(ok)
    return signals, answerable


def test_gate_separates_and_reports_a_threshold_ci():
    signals, answerable = _gate_data(200, 0)
    gate = fit_gate(signals, answerable, resamples=200, seed=0)
    calibration = Calibration(gate.threshold, gate_weights=gate.weights, gate_means=gate.means,
                              gate_scales=gate.scales)  # fmt: skip
    abstain = [calibration.answerable(s) < gate.threshold for s in signals]
    recall = sum(a for a, ok in zip(abstain, answerable, strict=True) if not ok) / answerable.count(
        False
    )
    false = sum(a for a, ok in zip(abstain, answerable, strict=True) if ok) / answerable.count(True)
    assert recall > 0.8 and false < 0.15
    assert gate.threshold_ci[0] <= gate.threshold <= gate.threshold_ci[1]
    assert gate.weights[FEATURES.index("likelihood") + 1] == 0.0  # not a gate feature
    assert gate.n == 200 and gate.n_unanswerable == answerable.count(False)


def test_gate_threshold_barely_moves_with_a_tenth_more_data():
    signals, answerable = _gate_data(200, 1)
    extra_signals, extra_answerable = _gate_data(20, 2)
    a = fit_gate(signals, answerable, resamples=300, seed=0)
    b = fit_gate(signals + extra_signals, answerable + extra_answerable, resamples=300, seed=0)

    def abstains(gate, s):
        c = Calibration(gate.threshold, gate_weights=gate.weights, gate_means=gate.means,
                        gate_scales=gate.scales)  # fmt: skip
        return c.answerable(s) < gate.threshold

    probe, probe_ok = _gate_data(400, 3)
    moved = sum(
        abstains(a, s) != abstains(b, s) for s, ok in zip(probe, probe_ok, strict=True) if ok
    )
    assert moved / probe_ok.count(True) <= 0.03


def test_gate_refuses_one_class():
    import pytest

    with pytest.raises(ValueError, match="at least 2"):
        fit_gate([Signals(0.9, 0.1, 0.5)] * 5 + [Signals(0.1, 0.0, 0.1)], [True] * 5 + [False])


def test_reliability_table_and_ece():
    rows, ece = reliability_table([0.1, 0.15, 0.9, 0.95], [False, False, True, True], bins=5)
    assert [r["n"] for r in rows] == [2, 0, 0, 0, 2]
    assert rows[0]["accuracy"] == 0.0 and rows[-1]["accuracy"] == 1.0
    assert 0 < ece < 0.2


def _idf(table):
    return lambda word: table.get(word, 6.0)  # unseen words are the most specific


def test_question_coverage_weights_the_rare_word_a_context_lacks():
    idf = _idf({"ko.tex": 0.5, "문서": 0.8, "변환": 2.0, "명령": 1.5})
    question = "ko.TeX 문서를 EPUB 전자책으로 변환하는 명령은 무엇인가요?"
    on_topic = ["ko.TeX 문서를 PDF로 변환하는 명령은 다음과 같다."]
    answering = ["ko.TeX 문서를 EPUB 전자책으로 변환하려면 다음 명령을 쓴다."]
    assert question_coverage(question, on_topic, idf) < 0.4  # "EPUB", "전자책" missing
    assert question_coverage(question, answering, idf) == 1.0
    assert question_coverage(question, [], idf) == 0.0


def test_question_coverage_ignores_question_words_and_lost_pdf_spaces():
    idf = _idf({"ko.tex": 0.5})
    # "무엇" is rare in manuals but says nothing about the topic
    assert (
        question_coverage("ko.TeX이란 무엇인가요?", ["ko.TeX은 한국어 조판 패키지이다."], idf)
        == 1.0
    )
    # the PDF's "들여 쓰기" splits into other morphemes than the question's "들여쓰기"
    question = "들여쓰기 크기는 자동으로 조정되나요?"
    assert (
        question_coverage(question, ["[hangul] 옵션 아래서는 들여 쓰기 크기도 자동 조정"], idf)
        == 1.0
    )


def test_the_answerability_gate_is_separate_from_the_confidence():
    n = len(FEATURES) + 1
    coverage_only = [0.0] * n  # bias, then one weight per feature
    coverage_only[1 + FEATURES.index("coverage")] = 5.0
    calibration = Calibration(0.5, weights=[0.0] * n, means=[0.0] * (n - 1),
                              scales=[1.0] * (n - 1), gate_weights=coverage_only,
                              gate_means=[0.0] * (n - 1), gate_scales=[1.0] * (n - 1))  # fmt: skip
    missing_word, covered = Signals(0.9, 0.1, 0.9, 0.1, 0.0), Signals(0.9, 0.1, 0.9, 1.0, 0.0)
    assert calibration.score(missing_word) == calibration.score(covered) == 0.5
    assert calibration.answerable(missing_word) < 0.65 < 0.99 < calibration.answerable(covered)
    unfitted = Calibration(0.3)  # before eval_generation: the gate is the blended confidence
    assert unfitted.answerable(covered) == unfitted.score(covered)


def test_calibration_fitted_on_other_features_is_recognised():
    assert Calibration(0.3).matches_features()  # the uncalibrated blend needs no weights
    assert Calibration(0.3, weights=[0.0] * (len(FEATURES) + 1)).matches_features()
    old = Calibration(0.3, weights=[0.1, 0.2, 0.3, 0.4], means=[0] * 3, scales=[1] * 3)
    assert not old.matches_features()
    assert not Calibration(0.3, gate_weights=[0.1, 0.2, 0.3, 0.4]).matches_features()


def test_a_calibration_from_before_corpus_coverage_keeps_its_exact_gate(tmp_path):
    """A promoted older bundle's calibration.json has five-signal weights and no "features"."""
    import json

    from pdfqa.config import GeneratorConfig
    from pdfqa.generation.confidence import LEGACY_FEATURES
    from pdfqa.generation.engine import load_calibration

    five = [0.2, 0.0, 0.0, 0.0, 4.0, 0.0]
    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"extractive": {"threshold": 0.5, "retrieval_weight": 0.5,
                                               "weights": five, "means": [0] * 5, "scales": [1] * 5,
                                               "gate_weights": five, "gate_means": [0, 0, 0, 0.5, 0],
                                               "gate_scales": [1] * 5}}))  # fmt: skip
    calibration = load_calibration(path, "extractive", GeneratorConfig())
    assert calibration.features == list(LEGACY_FEATURES) and calibration.matches_features()
    low, high = Signals(0.9, 0.1, 0.5, 0.1, 0.0, 0.0), Signals(0.9, 0.1, 0.5, 0.9, 0.0, 0.0)
    assert (
        calibration.answerable(low) < 0.5 < calibration.answerable(high)
    )  # corpus_coverage unused
    again = Calibration.from_dict(calibration.to_dict())
    assert again.features == calibration.features
    assert abs(again.answerable(high) - calibration.answerable(high)) < 1e-9


def test_an_outdated_calibration_file_falls_back_to_the_defaults(tmp_path, caplog):
    import json

    from pdfqa.config import GeneratorConfig
    from pdfqa.generation.engine import load_calibration

    path = tmp_path / "calibration.json"
    path.write_text(json.dumps({"lora": {"threshold": 0.9, "retrieval_weight": 0.5,
                                         "weights": [0.1, 0.2, 0.3, 0.4],
                                         "means": [0, 0, 0], "scales": [1, 1, 1]}}))  # fmt: skip
    settings = GeneratorConfig()
    with caplog.at_level("WARNING", logger="pdfqa.generation"):
        calibration = load_calibration(path, "lora", settings)
    assert calibration.threshold == settings.confidence.threshold and not calibration.weights
    assert "dvc repro eval_generation" in caplog.text
    assert calibration.score(Signals(0.8, 0.1, 0.5, 0.9, 0.0)) > 0


def test_a_constant_signal_survives_the_round_trip_through_json():
    """The base model's abstain_prob is ~1e-6 everywhere: its spread must not become a zero
    divisor once calibration.json rounds it."""
    signals, labels = _data()
    signals = [Signals(s.top_score, s.margin, s.likelihood, 0.5, 1e-6 * (i % 2))
               for i, s in enumerate(signals)]  # fmt: skip
    weights, means, scales = fit_logistic(signals, labels)
    restored = Calibration(
        **Calibration(0.5, weights=weights, means=means, scales=scales).to_dict()
    )
    assert 0 <= restored.score(signals[0]) <= 1
    restored.scales[-1] = 0.0  # a file written before the guard
    assert 0 <= restored.score(signals[0]) <= 1


def test_a_false_abstention_budget_sets_the_strictest_threshold_within_it():
    from pdfqa.generation.confidence import _capped_threshold

    answerable = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95]
    p = [*answerable, 0.05, 0.15, 0.35]
    y = [1] * 10 + [0] * 3
    cut = _capped_threshold(p, y, 0.1)  # one answerable question in ten may fall below
    assert 0.1 < cut < 0.2 and sum(a < cut for a in answerable) == 1
    assert _capped_threshold(p, y, 0.05) < 0.1  # none may: below every answerable score
    signals, labels = _gate_data(300, 3)
    gate = fit_gate(signals, labels, resamples=200, max_false_abstention=0.05, seed=0)
    calibration = Calibration(gate.threshold, gate_weights=gate.weights, gate_means=gate.means,
                              gate_scales=gate.scales)  # fmt: skip
    scores = [calibration.answerable(s) for s, ok in zip(signals, labels, strict=True) if ok]
    assert sum(s < gate.threshold for s in scores) / len(scores) <= 0.08  # in-sample, bagged


def test_the_gate_abstains_before_anything_is_generated():
    """A gate on retrieval signals alone decides first: nothing is decoded for the questions it
    abstains on. A gate that reads the draft (likelihood) needs every answer written first."""
    from types import SimpleNamespace

    from pdfqa.config import GeneratorConfig
    from pdfqa.generation.engine import AnswerGenerator, Draft
    from pdfqa.retrieval.index import Hit

    written = []

    class Backend:
        builder = SimpleNamespace(build=lambda q, texts, reserve: (q, list(range(len(texts)))))

        def generate(self, prompts):
            written.append(list(prompts))
            return [Draft("답은 ko.TeX입니다", 0.9) for _ in prompts]

    engine = AnswerGenerator.__new__(AnswerGenerator)
    engine.settings, engine.backend, engine.model_label = GeneratorConfig(), Backend(), "stub"
    hits = [Hit("c1", 1.0, "답은 ko.TeX입니다", "a.pdf", 3, 3)]
    # coverage 0.9 for the answerable question, 0.1 for the other
    engine._retrieve = lambda q, *a, **k: (hits, (0.8, 0.1, 0.9 if "있는" in q else 0.1, 1.0))
    coverage_gate = [0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0]  # bias + one weight per FEATURES
    engine.calibration = Calibration(0.5, gate_weights=coverage_gate, gate_means=[0.5] * 6,
                                     gate_scales=[1.0] * 6)  # fmt: skip
    answered, abstained = engine.answer_batch(["답이 있는 질문", "답이 없는 질문"])
    assert written == [["답이 있는 질문"]]
    assert not answered.abstained and answered.citations == [("a.pdf", 3)]
    assert abstained.abstained and abstained.text == engine.settings.abstain_answer
    assert [a for a in engine.stream("답이 없는 질문")][-1].abstained and len(written) == 1

    written.clear()
    draft_gate = [0.0, 0.0, 0.0, 1.0, 10.0, 0.0, 0.0]  # also reads the likelihood
    engine.calibration = Calibration(0.5, gate_weights=draft_gate, gate_means=[0.5] * 6,
                                     gate_scales=[1.0] * 6)  # fmt: skip
    engine.answer_batch(["답이 있는 질문", "답이 없는 질문"])
    assert written == [["답이 있는 질문", "답이 없는 질문"]]


def test_the_normal_budget_quantile_does_not_jump_with_one_question_more():
    """With 40 answerable questions a 5% budget lets 2 fall below the empirical cut, with 39 only
    1: one question more or less (a PDF added) moves that cut from one gap in the sparse tail to
    the next, while a normal fitted to all their logits barely moves."""
    from pdfqa.generation.confidence import _capped_threshold, _normal_capped_threshold

    rng = random.Random(0)
    answerable = [0.35, 0.55, 0.75] + [min(0.99, rng.gauss(0.9, 0.04)) for _ in range(37)]
    unanswerable = [0.2] * 10
    cuts = {}
    for name, values in {"40": answerable, "39": answerable[:-1]}.items():
        p, y = values + unanswerable, [1] * len(values) + [0] * 10
        cuts[name] = (_capped_threshold(p, y, 0.05), _normal_capped_threshold(p, y, 0.05))
    empirical_move = abs(cuts["40"][0] - cuts["39"][0])
    normal_move = abs(cuts["40"][1] - cuts["39"][1])
    assert empirical_move > 0.15 and normal_move < 0.02
    assert 0.3 < cuts["40"][1] < 0.9  # a low cut, inside the answerable distribution
    signals, labels = _gate_data(300, 3)
    gate = fit_gate(signals, labels, resamples=200, max_false_abstention=0.05,
                    budget_quantile="normal", seed=0)  # fmt: skip
    calibration = Calibration(gate.threshold, gate_weights=gate.weights, gate_means=gate.means,
                              gate_scales=gate.scales)  # fmt: skip
    scores = [calibration.answerable(s) for s, ok in zip(signals, labels, strict=True) if ok]
    assert sum(s < gate.threshold for s in scores) / len(scores) <= 0.1
    fixed = fit_gate(signals, labels, resamples=200, fixed_threshold=0.42, seed=0)
    assert fixed.threshold == 0.42 and fixed.threshold_ci[0] <= fixed.threshold_ci[1]


def test_answer_all_fills_every_generating_batch_and_keeps_the_order():
    """The gate declines before anything is generated: questions it lets through are batched
    first, so each decode loop runs on a full batch; answers come back in the records' order."""
    from pdfqa.generation.evaluate import answer_all

    class Engine:
        def __init__(self):
            self.batches = []

        def gated_out(self, questions):
            return [q.startswith("x") for q in questions]

        def answer_batch(self, questions):
            self.batches.append(list(questions))
            return [f"answer to {q}" for q in questions]

    records = [{"question": q} for q in ("q1", "x1", "q2", "x2", "q3", "q4", "x3")]
    engine = Engine()
    answers = answer_all(engine, records, 2, "test")
    assert answers == [f"answer to {r['question']}" for r in records]
    assert engine.batches == [["q1", "q2"], ["q3", "q4"], ["x1", "x2"], ["x3"]]
