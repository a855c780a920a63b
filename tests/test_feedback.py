"""App feedback → QA records (qa stage): accepted corrections with evidence found in the cited
document become human records in train/val, never test; 👎 without a fix and corrections on test
pages become eval-only hard questions; a torn last line never breaks the stage."""

from __future__ import annotations

import json

from conftest import ROOT

from pdfqa.jsonio import read_jsonl


def _event(i: int, question: str, rating: str, correction: str = "", evidence: str = "",
           citation: tuple[str, int] | None = None) -> dict:  # fmt: skip
    return {"id": f"e{i:03d}", "request_id": f"r{i}", "created": "2026-12-01T10:00:00Z",
            "rating": rating, "question": question, "answer": "틀린 답", "correction": correction,
            "evidence": evidence, "citations": [list(citation)] if citation else [],
            "reason": "답이 틀림" if rating == "down" else "", "bundle_version": "v0.0.1"}  # fmt: skip


def _page_text(sample_run, source: str, page: int) -> str:
    pages = [p for p in read_jsonl(sample_run.paths.pages) if p["source"] == source]
    return next(p["text"] for p in pages if p["page"] == page)


def test_reviewed_feedback_becomes_qa_records_never_in_test(sample_run, tmp_path):
    import stages.qa
    from pdfqa.qa import feedback

    splits = json.loads((sample_run.paths.qa_dir / "splits.json").read_text())["pages"]
    source = "oblivoir-simpledoc.pdf"
    train_page = next(int(p) for p, s in splits[source].items() if s == "train")
    test_page = next(int(p) for p, s in splits[source].items() if s == "test")
    train_text, test_text = (_page_text(sample_run, source, p) for p in (train_page, test_page))
    train_evidence = train_text.split("\n")[0][:60].strip()
    other = "cjk-ko-doc.pdf"
    chunk = next(c for c in read_jsonl(sample_run.paths.chunks) if c["source"] == other
                 and {splits[other][str(p)] for p in range(c["page_start"], c["page_end"] + 1)} == {"train"})  # fmt: skip
    other_page = chunk["page_start"]
    other_evidence = chunk["text"].split("\n")[1][:60].strip()
    test_evidence = test_text.split("\n")[0][:60].strip()
    events = [
        _event(
            1, "피드백 질문 하나?", "down", "고친 답입니다.", train_evidence, (source, train_page)
        ),
        _event(2, "시험 페이지 질문?", "down", "고친 답.", test_evidence, (source, test_page)),
        _event(3, "고칠 수 없는 질문?", "down"),
        _event(
            4,
            "근거가 엉뚱한 질문?",
            "down",
            "답.",
            "이 문장은 문서 어디에도 없습니다 전혀",
            (source, 1),
        ),
        _event(5, "좋았던 질문", "up"),
        _event(6, "거절된 질문?", "down", "거절될 답.", train_evidence, (source, train_page)),
        _event(7, "아직 검토 안 된 질문?", "down"),
        # 근거가 틀림: the app cited the wrong document; the user pasted the right passage
        {
            **_event(
                8,
                "다른 문서에 답이 있는 질문?",
                "down",
                "다른 문서의 답.",
                train_evidence,
                (source, train_page),
            ),
            "user_evidence": other_evidence,
            "reason": "근거가 틀림",
        },
    ]
    fb_dir = tmp_path / "feedback"
    fb_dir.mkdir()
    lines = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in events)
    (fb_dir / "feedback.jsonl").write_text(
        lines + '{"id": "torn', encoding="utf-8"
    )  # crash mid-append
    reviews = [{"id": f"e{i:03d}", "decision": "accept"} for i in (1, 2, 3, 4, 8)]
    reviews += [{"id": "e006", "decision": "accept"}, {"id": "e006", "decision": "reject"}]
    (fb_dir / "reviews.jsonl").write_text("".join(json.dumps(r) + "\n" for r in reviews))

    read = feedback.read_events(fb_dir / "feedback.jsonl")
    assert len(read) == 8
    decided = feedback.read_reviews(fb_dir / "reviews.jsonl")
    assert decided["e006"]["decision"] == "reject"  # the last decision wins
    assert [e["id"] for e in feedback.pending(read, decided)] == ["e007"]  # 👍 needs no review

    out = tmp_path / "qa"
    cfg = sample_run.model_copy(update={"paths": sample_run.paths.model_copy(update={
        "qa_dir": out, "feedback": fb_dir / "feedback.jsonl", "feedback_reviews": fb_dir / "reviews.jsonl",
        "hard_questions": out / "hard_questions.jsonl"})})  # fmt: skip
    stages.qa.main(cfg)

    records = {s: list(read_jsonl(out / f"{s}.jsonl")) for s in ("train", "val", "test")}
    fb_ids = {
        s: [r["id"] for r in rows if r["id"].startswith("fb-")] for s, rows in records.items()
    }
    assert fb_ids == {"train": ["fb-e001", "fb-e008"], "val": [], "test": []}
    added = next(r for r in records["train"] if r["id"] == "fb-e001")
    assert added["answer"] == "고친 답입니다." and added["relevant_chunks"]
    moved = next(r for r in records["train"] if r["id"] == "fb-e008")
    assert moved["source"] == other and moved["page"] == other_page  # anchored where the quote is
    baseline = {s: [r for r in read_jsonl(sample_run.paths.qa_split(s))] for s in ("test",)}
    assert records["test"] == baseline["test"]  # the frozen test split did not move

    hard = {r["id"]: r["why"] for r in read_jsonl(out / "hard_questions.jsonl")}
    assert hard == {"fb-e002": "evidence on a test page (the test split stays frozen)",
                    "fb-e003": "no correction with evidence",
                    "fb-e004": "evidence not found in the cited document"}  # fmt: skip
    stats = json.loads((out / "stats.json").read_text())["feedback"]
    assert stats == {"events": 8, "pending": 1, "accepted": 5, "rejected": 1, "records": 2,
                     "unverifiable": 1, "hard_questions": 3, "kept_out_test_pages": 1}  # fmt: skip


def test_the_repo_ships_empty_feedback_files():
    # The qa stage depends on them, so a fresh clone's `dvc repro` must find them.
    for name in ("feedback.jsonl", "reviews.jsonl"):
        assert (ROOT / "data" / "feedback" / name).exists()
