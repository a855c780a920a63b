"""Great Expectations suites: each fails on a crafted bad dataset and passes on good data."""

from __future__ import annotations

import copy
import json
from types import SimpleNamespace

import pytest

from pdfqa.qa.validation import build_frames, describe, run_validation, summarise

CFG = SimpleNamespace(
    min_corpus_hangul_ratio=0.3, max_page_mojibake_ratio=0.2,
    min_train=2, min_val=1, min_test=1, max_tokens=50, min_tokens=2,
)  # fmt: skip


def _good() -> dict:
    pages = [
        {"source": "a.pdf", "page": i, "text": f"{i}쪽의 한국어 본문입니다. 패키지를 설치합니다."}
        for i in (1, 2, 3)
    ]
    chunks = [
        {
            "chunk_id": f"a-{i}",
            "n_tokens": 12,
            "text": f"청크 {i}의 본문",
            "page_start": i,
            "page_end": i,
        }
        for i in (1, 2, 3)
    ]

    def qa(id_, chunk, split, evidence):
        return {"id": id_, "question": f"{id_} 질문은 무엇인가요?", "answer": "답입니다.",
                "answerable": True, "relevant_chunks": [chunk], "evidence": evidence, "split": split}  # fmt: skip

    splits = {
        "train": [qa("q1", "a-1", "train", "근거 1"), qa("q2", "a-1", "train", "근거 2")],
        "val": [qa("q3", "a-2", "val", "근거 3")],
        "test": [qa("q4", "a-3", "test", "근거 4")],
    }
    synthetic = [
        {"id": "s1", "question": "합성 질문", "relevant_chunks": ["a-1"], "split": "train"}
    ]
    return {"pages": pages, "chunks": chunks, "qa": splits, "synthetic": synthetic}


def _run(data: dict, tmp_path):
    frames = build_frames(data["pages"], data["chunks"], data["qa"], data["synthetic"], CFG)
    outcomes = run_validation(frames, tmp_path / "docs")
    return outcomes, summarise(outcomes)


@pytest.fixture(scope="module")
def good_result(tmp_path_factory):
    return _run(_good(), tmp_path_factory.mktemp("good"))


def test_good_data_passes_every_suite(good_result):
    outcomes, summary = good_result
    assert summary["success"], [describe(o) for o in outcomes if not o.success]
    assert set(summary["suites"]) == {"pages", "chunks", "qa"}


def _failures(data, tmp_path) -> list[str]:
    outcomes, summary = _run(data, tmp_path)
    assert not summary["success"]
    return [describe(o) for o in outcomes if not o.success and o.critical]


def test_pages_suite_catches_mojibake_and_non_korean_corpus(tmp_path):
    data = _good()
    data["pages"][1]["text"] = "\ufffd\ufffd\ue000\ue001 garbled"
    for page in data["pages"]:
        page["text"] = page["text"] if page["page"] == 2 else "English only text here"
    failures = _failures(data, tmp_path)
    assert any(
        "[pages/pages] expect_column_values_to_be_between on mojibake_ratio: a.pdf#p2" in f
        for f in failures
    )
    assert any(
        "[pages/corpus] expect_column_values_to_be_between on hangul_ratio" in f for f in failures
    )


def test_chunks_suite_catches_duplicates_bounds_empty_text_and_page_order(tmp_path):
    data = _good()
    data["chunks"][1]["chunk_id"] = "a-1"
    data["chunks"][2].update(n_tokens=500, text="", page_start=3, page_end=2)
    failures = "\n".join(_failures(data, tmp_path))
    assert "[chunks/chunks] expect_column_values_to_be_unique on chunk_id: 'a-1'" in failures
    assert "expect_column_values_to_be_between on n_tokens: a-3: 500" in failures
    assert "expect_column_value_lengths_to_be_between on text" in failures
    assert "expect_column_pair_values_a_to_be_greater_than_b on page_end" in failures


def test_qa_suite_catches_every_kind_of_bad_record(tmp_path):
    data = copy.deepcopy(_good())
    train, val, test = data["qa"]["train"], data["qa"]["val"], data["qa"]["test"]
    train[1]["id"] = "q1"  # duplicate id
    train[0]["answer"] = ""  # empty answer
    val[0]["relevant_chunks"] = ["missing-chunk"]  # link to a chunk that does not exist
    test[0]["relevant_chunks"] = []  # answerable without evidence chunk
    test[0]["question"] = val[0]["question"]  # same question in two splits
    test[0]["evidence"] = val[0]["evidence"]  # same evidence in two splits
    data["synthetic"][0]["split"] = "test"  # synthetic pairs only ever train
    data["qa"]["train"] = train[:1]  # train below its minimum size
    failures = "\n".join(_failures(data, tmp_path))
    for expected in (
        "[qa/qa_records] expect_column_values_to_be_unique on question_norm",
        "[qa/qa_records] expect_column_value_lengths_to_be_between on answer: q1: ''",
        "[qa/qa_links] expect_column_values_to_be_in_set on chunk_id: q3: 'missing-chunk'",
        "[qa/qa_answerable] expect_column_values_to_be_between on n_relevant: q4: 0",
        "[qa/qa_split_sizes] expect_column_pair_values_a_to_be_greater_than_b on count: train",
        "[qa/qa_evidence] expect_column_values_to_be_unique on evidence_norm",
        "[qa/synthetic] expect_column_values_to_be_in_set on split: s1: 'test'",
    ):
        assert expected in failures, (expected, failures)


def test_messages_show_at_most_five_offending_rows(tmp_path):
    data = _good()
    data["chunks"] = [dict(c, chunk_id="dup") for c in data["chunks"] * 4]
    failures = _failures(data, tmp_path)
    unique = next(f for f in failures if "chunk_id" in f and "unique" in f)
    assert unique.count("'dup'") == 5 and "(+7 more)" in unique


def test_warnings_do_not_fail(tmp_path):
    data = _good()
    data["chunks"][0]["n_tokens"] = 1  # below chunk.min_tokens: a warning only
    _, summary = _run(data, tmp_path)
    assert summary["success"]
    assert summary["suites"]["chunks"]["warnings"] == 1


def test_stage_on_the_sample_corpus_passes_and_writes_docs(sample_run):
    metrics = json.loads(sample_run.paths.data_quality_metrics.read_text())
    assert metrics["success"]
    assert {s: v["failed"] for s, v in metrics["suites"].items()} == {
        "chunks": 0,
        "pages": 0,
        "qa": 0,
    }
    index = sample_run.paths.data_docs / "index.html"
    assert index.exists() and "qa.qa_records" in index.read_text()
