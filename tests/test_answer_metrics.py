"""Korean answer metrics: the tokenisation bugs of English scorers must not happen here."""

from __future__ import annotations

import pytest

from pdfqa.generation.metrics import (
    abstention_scores,
    answer_span,
    corpus_bleu,
    faithfulness,
    lcs_length,
    overall_system_score,
    percentile,
    rouge_l,
    sentence_bleu,
    span_hit,
    token_f1,
)

REF = "ko.TeX은 2013년에 CTAN에 등재되었습니다."


@pytest.mark.parametrize("metric", [rouge_l, token_f1, sentence_bleu])
def test_identical_korean_strings_score_one(metric):
    assert metric(REF, REF) == pytest.approx(1.0)
    assert metric(
        "자동 조사 기능은 nojosa 옵션으로 끕니다.", "자동 조사 기능은 nojosa 옵션으로 끕니다."
    ) == pytest.approx(1.0)


@pytest.mark.parametrize("metric", [rouge_l, token_f1])
def test_unrelated_answers_score_zero_and_paraphrases_in_between(metric):
    assert metric("표는 tabular 환경으로 만든다", REF) == 0.0
    partial = metric("2013년에 등재되었어요", REF)
    assert 0.2 < partial < 1.0


def test_morphemes_let_particles_differ():
    # "CTAN에" vs "CTAN이": same content, different particle → high but not perfect
    assert 0.6 < rouge_l("CTAN이 2013년 등재", "CTAN에 2013년에 등재") < 1.0


def test_lcs():
    assert lcs_length(list("ABCBDAB"), list("BDCABA")) == 4
    assert lcs_length([], ["a"]) == 0


def test_corpus_bleu_uses_characters():
    assert corpus_bleu([REF], [REF]) == pytest.approx(1.0)
    assert 0 < corpus_bleu(["2013년에 등재"], [REF]) < 1


def test_span_hit_needs_every_document_fact_of_the_reference():
    span = answer_span(REF, "2013년에 ko.TEX이 CTAN에 등재되어")
    assert {"2013", "ctan", "등재"} <= set(span)
    assert span_hit("ko.TeX의 CTAN 등재는 2013년입니다.", span) == 1.0
    assert span_hit("2013년입니다.", span) == 0.0


def test_faithfulness_is_the_share_of_answer_words_in_cited_contexts():
    assert faithfulness(
        "nojosa 옵션으로 끕니다", ["자동 조사 기능은 nojosa 옵션으로 끈다."]
    ) == pytest.approx(1.0)
    assert (
        faithfulness("setkomainfont 명령을 씁니다", ["자동 조사 기능은 nojosa 옵션으로 끈다."])
        < 0.5
    )


def test_abstention_precision_and_recall():
    scores = abstention_scores(
        abstained=[True, True, False, False], answerable=[False, True, False, True]
    )
    assert scores["abstention_precision"] == 0.5 and scores["abstention_recall"] == 0.5
    assert abstention_scores([False], [True])["abstention_f1"] == 0.0


def test_overall_score_is_the_weighted_mean():
    assert overall_system_score({"a": 1.0, "b": 0.0}, {"a": 3, "b": 1}) == 0.75


def test_percentile_interpolates():
    assert percentile([1, 2, 3, 4], 0.5) == 2.5 and percentile([5], 0.95) == 5
