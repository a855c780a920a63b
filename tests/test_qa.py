from __future__ import annotations

import pytest

from pdfqa.errors import PdfqaError
from pdfqa.jsonio import read_jsonl
from pdfqa.qa.records import (
    SPLITS,
    HumanQA,
    assign_splits,
    document_splits,
    load_human,
    resolve_evidence,
    section_splits,
)

FRACTIONS = {"train": 0.6, "val": 0.2, "test": 0.2}
CHUNKS = [
    {
        "chunk_id": "d-0000-a",
        "source": "a.pdf",
        "text": "ko.TeX은 한국어 조판 패키지이다. 설치는 tlmgr로 한다.",
    },
    {
        "chunk_id": "d-0001-b",
        "source": "a.pdf",
        "text": "설치는 tlmgr로 한다. 글꼴은 \\setkomainfont로 지정한다.",
    },
    {"chunk_id": "d-0002-c", "source": "a.pdf", "text": "자동 조사는 받침에 따라 은/는을 고른다."},
]


def _record(**kw) -> HumanQA:
    base = {"id": "q1", "question": "무엇인가?", "answer": "답", "evidence": "", "source": "a.pdf",
            "page": 1, "difficulty": "easy", "type": "factual"}  # fmt: skip
    return HumanQA.model_validate({**base, **kw})


def test_load_human_reports_every_problem_by_line():
    bad = [
        {"id": "x", "question": "", "answer": "a", "difficulty": "easy", "type": "factual"},
        {"id": "y", "question": "q?", "answer": "a", "difficulty": "impossible", "type": "factual"},
        {"id": "z", "question": "q?", "answer": "a", "difficulty": "easy", "type": "factual",
         "answerable": False},
    ]  # fmt: skip
    with pytest.raises(PdfqaError) as err:
        load_human(bad)
    message = str(err.value)
    assert "line 1 (x)" in message and "line 2 (y)" in message and "line 3 (z)" in message


def test_evidence_contained_in_several_overlapping_chunks():
    res = resolve_evidence(_record(evidence="설치는  tlmgr로\n한다."), CHUNKS, 0.8)
    assert res.method == "contained"
    assert res.chunk_ids == ["d-0000-a", "d-0001-b"]


def test_evidence_cut_by_a_chunk_boundary_is_covered_by_two_chunks():
    chunks = [
        {
            "chunk_id": "c1",
            "source": "a.pdf",
            "text": "앞 문장이다. 증거 문장의 앞부분은 여기에 있고",
        },
        {"chunk_id": "c2", "source": "a.pdf", "text": "뒷부분은 다음 청크에 있다. 다른 문장."},
    ]
    res = resolve_evidence(
        _record(evidence="증거 문장의 앞부분은 여기에 있고 뒷부분은 다음 청크에 있다."), chunks, 0.8
    )
    assert res.method == "overlap" and res.chunk_ids == ["c1", "c2"]


def test_evidence_not_in_the_corpus_is_unresolved_not_dropped():
    res = resolve_evidence(
        _record(evidence="전혀 다른 내용의 문장으로 코퍼스에 없다."), CHUNKS, 0.8
    )
    assert res.method == "unresolved" and res.chunk_ids == []


def test_section_splits_are_contiguous_deterministic_and_cover_every_split():
    pages = {"a.pdf": 30, "b.pdf": 20}
    first = section_splits(pages, 42, 2, FRACTIONS)
    assert first == section_splits(pages, 42, 2, FRACTIONS)
    assert first != section_splits(pages, 7, 2, FRACTIONS)
    for source, n in pages.items():
        labels = first[source]
        assert sorted(labels) == list(range(1, n + 1))
        assert set(labels.values()) == set(SPLITS)
        for start in range(1, n + 1, 2):  # a 2-page section never straddles splits
            assert labels[start] == labels.get(start + 1, labels[start])
    # Adding a PDF never moves another PDF's pages (the test split stays frozen).
    assert section_splits({**pages, "c.pdf": 9}, 42, 2, FRACTIONS)["a.pdf"] == first["a.pdf"]


def test_document_splits_keep_documents_whole():
    splits = document_splits({f"{i}.pdf": 5 for i in range(10)}, 1, FRACTIONS)
    for pages in splits.values():
        assert len(set(pages.values())) == 1
    assert {next(iter(p.values())) for p in splits.values()} == set(SPLITS)


def test_unanswerable_records_are_shared_across_splits_and_never_move():
    def unanswerable(n):
        return [_record(id=f"u{i}", answerable=False, type="unanswerable", source=None, page=None)
                for i in range(n)]  # fmt: skip

    few = assign_splits(unanswerable(20), {}, 42, FRACTIONS)
    many = assign_splits(unanswerable(2000), {}, 42, FRACTIONS)
    assert all(many[k] == v for k, v in few.items())  # adding questions moves none
    counts = {s: sum(v == s for v in many.values()) / len(many) for s in SPLITS}
    for split, share in counts.items():
        assert abs(share - FRACTIONS[split]) < 0.04, counts


def test_stage_output_has_no_leakage_between_splits(sample_run):
    """On the qa stage's output for the sample corpus: no evidence passage and no question
    in two splits, every answerable record anchored, and the frozen split sizes."""
    from pdfqa.korean import squash

    out = {s: list(read_jsonl(sample_run.paths.qa_split(s))) for s in SPLITS}
    seen_evidence: dict[str, str] = {}
    seen_question: dict[str, str] = {}
    for split, records in out.items():
        for r in records:
            assert r["split"] == split
            for key, seen in (
                (squash(r["evidence"]), seen_evidence),
                (squash(r["question"]), seen_question),
            ):
                if key:
                    assert seen.setdefault(key, split) == split, r["id"]
            if r["answerable"]:
                assert r["relevant_chunks"], r["id"]
    assert {s: len(v) for s, v in out.items()} == {"train": 130, "val": 62, "test": 57}


def test_a_pdf_without_human_questions_gives_every_page_to_training():
    from pdfqa.config import QAConfig
    from pdfqa.qa import build_qa_sets

    chunks = [{**c, "page_start": i + 1, "page_end": i + 1} for i, c in enumerate(CHUNKS * 4)]
    chunks += [{"chunk_id": f"n-{p}", "source": "new.pdf", "text": "새 문서의 내용이다.",
                "page_start": p, "page_end": p} for p in range(1, 21)]  # fmt: skip
    sets = build_qa_sets(
        [_record(page=1, evidence="설치는 tlmgr로 한다.")], chunks, QAConfig(section_pages=1), 42
    )
    pages = sets.page_splits["pages"]
    assert set(pages["new.pdf"].values()) == {"train"} and len(pages["new.pdf"]) == 20
    assert set(pages["a.pdf"].values()) == set(SPLITS)  # a PDF with questions keeps its sections
