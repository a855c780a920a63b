"""The A/B comparison on per-question rows shaped like metrics/per_question/*.jsonl."""

import pytest

from pdfqa.lifecycle.ab import (
    NotEnoughPairs,
    Side,
    compare,
    fluency,
    render_markdown,
    repetition_rate,
    to_metrics,
    well_formed_share,
)

GOOD = "2013년에 CTAN에 등재되었습니다."


def _side(label, correct, latency=100.0, recall=1.0, n_unanswerable=5, answer=GOOD):
    generation = [
        {"id": f"q{i:02d}", "system": "extractive", "answerable": True, "correct": c, "abstained": False,
         "rouge_l": float(c), "token_f1": float(c), "span_hit": float(c), "latency_ms": latency,
         "answer": answer}
        for i, c in enumerate(correct)
    ] + [
        {"id": f"u{i:02d}", "system": "extractive", "answerable": False, "correct": True, "abstained": True,
         "latency_ms": latency, "answer": "문서에서 답을 찾을 수 없습니다."}
        for i in range(n_unanswerable)
    ]  # fmt: skip
    retrieval = [{"id": f"q{i:02d}", "system": "hybrid", "recall@5": recall, "mrr@10": recall}
                 for i in range(len(correct))]  # fmt: skip
    return Side(label, "extractive", generation, retrieval)


SECONDARIES = {"recall@5": 0.05, "abstention_recall": 0.1, "latency_p95": 50.0}


def test_a_clear_improvement_is_promoted():
    champion = _side("v1", [True] * 10 + [False] * 20)
    challenger = _side("v2", [True] * 24 + [False] * 6)
    result = compare(champion, challenger, primary="answerable_accuracy", secondaries=SECONDARIES,
                     resamples=1999, seed=0)  # fmt: skip
    assert result.verdict == "promote", result.reason
    assert result.n_paired == 30
    assert result.primary.difference == pytest.approx(14 / 30)
    # no sign flip is as extreme as the data: the smallest two-sided p, 2 · 1 / (B + 1), never 0
    assert result.primary.ci_low > 0 and result.primary.p_value == pytest.approx(2 / 2000)
    assert {c.metric for c in result.secondaries} == set(SECONDARIES)
    assert all(c.p_holm is not None and c.p_holm >= c.p_value for c in result.secondaries)
    assert len(result.changed) == 10 and all(
        c["challenger"] > c["champion"] for c in result.changed
    )
    assert 0 < result.mde < 0.5


def test_a_secondary_beyond_its_margin_holds_the_promotion():
    champion = _side("v1", [True] * 10 + [False] * 20, latency=100.0)
    challenger = _side("v2", [True] * 24 + [False] * 6, latency=400.0)
    result = compare(champion, challenger, primary="answerable_accuracy", secondaries=SECONDARIES,
                     resamples=999)  # fmt: skip
    assert result.verdict == "hold"
    assert "latency_p95" in result.reason


def test_no_significant_change_holds_and_states_the_detectable_effect():
    champion = _side("v1", [True] * 15 + [False] * 15)
    challenger = _side("v2", [True] * 16 + [False] * 14)
    result = compare(
        champion, challenger, primary="answerable_accuracy", secondaries={}, resamples=999
    )
    assert result.verdict == "hold" and "not detectable" in result.reason
    assert result.primary.p_value > 0.5  # one discordant question out of 30


def test_too_few_paired_questions_are_refused():
    with pytest.raises(NotEnoughPairs, match="only 5 questions pair up"):
        compare(_side("v1", [True] * 5), _side("v2", [False] * 5), primary="answerable_accuracy",
                secondaries={}, min_paired=20)  # fmt: skip


def test_fluency_proxy_measures_repetition_and_sentence_endings():
    assert well_formed_share(GOOD) == 1.0
    assert well_formed_share("ko.TeX 문서를 문서를 문서를") == 0.0
    assert repetition_rate(["a", "b", "a", "b", "a", "b"]) == pytest.approx(0.5)
    assert fluency(GOOD) == 1.0
    assert fluency("문서를 문서를 문서를 문서를 문서를 문서를") < 0.3


def test_metrics_file_and_report_carry_the_table_and_verdict():
    import json

    result = compare(_side("v1", [True] * 10 + [False] * 20), _side("v2", [True] * 24 + [False] * 6),
                     primary="answerable_accuracy", secondaries=SECONDARIES, resamples=999)  # fmt: skip
    metrics = json.loads(json.dumps(to_metrics(result)))
    assert metrics["verdict"] == "promote" and metrics["primary"]["n"] == 30
    assert set(metrics["secondaries"]) == set(SECONDARIES)
    report = render_markdown(result)
    assert "**Verdict: promote**" in report and "| **answerable_accuracy** (primary) |" in report
    assert report.count(GOOD) == 20  # ten changed questions, both answers side by side
