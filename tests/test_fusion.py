"""The learned fusion: fitting on labelled questions, re-ordering only hybrid's first results,
and travelling with the index through its manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pdfqa.retrieval import fusion


class Candidates:
    """A stand-in for a retriever's ``fusion_candidates``: per question 20 candidates whose
    features are noise except that the relevant one has a high coverage."""

    def __init__(self, n_questions: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.chunks = [{"chunk_id": f"c{i}"} for i in range(20)]
        self.rows, self.records = {}, []
        for q in range(n_questions):
            relevant = int(rng.integers(20))
            rows = rng.uniform(0, 1, size=(20, len(fusion.FEATURES)))
            rows[:, 5] = rng.uniform(0, 0.4, size=20)
            rows[relevant, 5] = rng.uniform(0.7, 1.0)
            self.rows[f"q{q}"] = rows
            self.records.append({"question": f"q{q}", "answerable": True,
                                 "relevant_chunks": [f"c{relevant}"]})  # fmt: skip
        self.records.append(
            {"question": "unanswerable", "answerable": False, "relevant_chunks": []}
        )

    def fusion_candidates(self, question):
        return list(range(20)), self.rows[question]


def test_the_fit_learns_which_feature_marks_the_answer():
    train, fresh = Candidates(40, seed=1), Candidates(20, seed=2)
    model = fusion.fit(train, train.records, top=5)
    assert model is not None and model["features"] == list(fusion.FEATURES)
    assert model["n_questions"] == 40 and model["n_candidates"] == 800
    coef = dict(zip(fusion.FEATURES, model["coef"], strict=True))
    assert coef["coverage"] > 0 and coef["coverage"] == max(coef.values())
    ranked_first = [
        int(np.argmax(fusion.scores(model, fresh.rows[r["question"]])))
        == int(r["relevant_chunks"][0][1:])
        for r in fresh.records
        if r["answerable"]
    ]
    assert sum(ranked_first) >= 18  # of 20 questions it never saw
    json.dumps(model)  # it goes into the manifest as it is


def test_too_few_questions_or_positives_leave_the_plain_fusion_and_say_which(caplog):
    few = Candidates(fusion.MIN_QUESTIONS - 1)
    with caplog.at_level("WARNING", logger="pdfqa.retrieval"):
        assert fusion.fit(few, few.records, top=5) is None
    assert f"{fusion.MIN_QUESTIONS - 1} labelled val questions (needs" in caplog.text
    caplog.clear()
    missed = Candidates(fusion.MIN_QUESTIONS + 5)  # c0 is relevant but never a candidate
    missed.fusion_candidates = lambda question: (list(range(1, 20)), missed.rows[question][1:])
    for record in missed.records[3:]:
        record["relevant_chunks"] = ["c0"]
    with caplog.at_level("WARNING", logger="pdfqa.retrieval"):
        assert fusion.fit(missed, missed.records, top=5) is None
    assert "relevant and" in caplog.text and "needs 5 of each" in caplog.text


def test_reorder_touches_only_the_first_results_and_keeps_their_scores():
    model = {"top": 3, "mean": [0.0] * 6, "scale": [1.0] * 6, "intercept": 0.0,
             "coef": [0, 0, 0, 0, 0, 1.0]}  # fmt: skip
    fused = [(10, 0.9), (11, 0.8), (12, 0.7), (13, 0.6), (14, 0.5)]
    rows = np.zeros((3, 6))
    rows[:, 5] = [0.1, 0.2, 0.9]
    assert fusion.reorder(model, fused, rows) == [(12, 0.7), (11, 0.8), (10, 0.9), (13, 0.6),
                                                  (14, 0.5)]  # fmt: skip


def test_features_of_a_candidate_missing_from_one_ranking_get_its_floor():
    dense = [(1, 0.9), (2, 0.5)]
    sparse = [(3, 12.0), (1, 2.0)]
    rows = fusion.candidate_features([1, 2, 3], dense, sparse, coverage=lambda i: i / 10)
    assert rows[0].tolist() == pytest.approx([0.9, 1.0, 0.0, 60 / 61, 60 / 62, 0.1])
    assert rows[2].tolist() == pytest.approx([0.5, 0.0, 1.0, 0.0, 60 / 61, 0.3])


@pytest.mark.slow
def test_the_index_stage_fits_it_on_val_and_serves_it(trained_retriever):
    """On the sample corpus: the manifest carries the model, a loaded index applies it, and it
    only re-orders hybrid's top 5 (the same five passages, everything below unchanged)."""
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval import Retriever

    paths = trained_retriever.paths
    manifest = json.loads((paths.index / "manifest.json").read_text(encoding="utf-8"))
    model = manifest["fusion_model"]
    assert model["top"] == 5 and len(model["coef"]) == len(fusion.FEATURES)
    val = [r for r in read_jsonl(paths.qa_split("val")) if r["answerable"] and r["relevant_chunks"]]
    assert model["n_questions"] == len(val)

    served = Retriever.from_dir(paths.index)
    plain = Retriever.from_dir(paths.index, model=served.model)
    plain.use_fusion_model(None)
    moved = 0
    for record in list(read_jsonl(paths.qa_split("test")))[:30]:
        learned = [i for i, _ in served.ranked(record["question"], 10)]
        before = [i for i, _ in plain.ranked(record["question"], 10)]
        assert sorted(learned[:5]) == sorted(before[:5]) and learned[5:] == before[5:]
        moved += learned != before
    assert moved > 0  # it does re-order something
