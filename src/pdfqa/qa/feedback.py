"""The app's feedback as data: what users said about answers, reviewed by a person, turned into
QA records for the next ``dvc repro``.

The app appends one JSON line per event to ``paths.feedback`` (👍/👎, an optional corrected
answer, a reason, the citations and the evidence passage it showed). ``pdfqa feedback review``
records accept/reject decisions in ``paths.feedback_reviews`` (append-only; the last decision on
an event wins). The ``qa`` stage then reads both:

- an accepted event with a corrected answer and an evidence passage that is really in the cited
  document becomes a human QA record (``fb-…`` id, anchored to chunks like any other record);
- an accepted 👎 without a correction becomes an eval-only *hard question* (never trained on);
- nothing from feedback enters the frozen test split: a record whose evidence page belongs to
  the test split is kept out of training and listed as a hard question instead.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from pdfqa.qa.records import HumanQA, resolve_evidence

log = logging.getLogger("pdfqa.feedback")
REASONS = ("근거가 틀림", "답이 틀림")  # wrong evidence / wrong answer


def event_id(request_id: str, created: str, rating: str) -> str:
    """Stable id of one feedback event (the same click logged twice is one event)."""
    return hashlib.sha256(f"{request_id}|{created}|{rating}".encode()).hexdigest()[:12]


def read_events(path: Path | str) -> list[dict]:
    """Every well-formed line; a torn last line (a crash mid-append) is skipped with a warning,
    never fatal, so one bad write cannot block ``dvc repro``."""
    path = Path(path)
    if not path.exists():
        return []
    events, bad = [], 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(event, dict) and event.get("id") and event.get("question"):
            events.append(event)
        else:
            bad += 1
    if bad:
        log.warning("%s: %d malformed line(s) skipped", path, bad)
    return events


def read_reviews(path: Path | str) -> dict[str, dict]:
    """{event id: its latest decision}."""
    path = Path(path)
    decisions: dict[str, dict] = {}
    if not path.exists():
        return decisions
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and row.get("id") and row.get("decision") in ("accept", "reject"):
            decisions[row["id"]] = row
    return decisions


def needs_review(event: dict) -> bool:
    """👎 and corrections are reviewed; a plain 👍 is only monitoring."""
    return event.get("rating") == "down" or bool((event.get("correction") or "").strip())


def pending(events: list[dict], reviews: dict[str, dict]) -> list[dict]:
    return [e for e in events if needs_review(e) and e["id"] not in reviews]


@dataclass
class FeedbackData:
    records: list[HumanQA] = field(default_factory=list)  # accepted corrections → QA records
    hard: list[dict] = field(default_factory=list)  # eval-only hard questions
    stats: dict = field(default_factory=dict)


def _locate(
    evidence: str, chunks: list[dict], cited: tuple[str, int] | None
) -> tuple[str, int] | None:
    """(source, page) where ``evidence`` is: the cited page when a chunk covering it contains the
    evidence, else the first chunk anywhere that does (a "근거가 틀림" correction quotes the
    passage the answer should have used). The page decides the split, so it is never moved off
    the cited page when the evidence is there (a test page stays a test page)."""
    from pdfqa.korean import squash

    wanted = squash(evidence)
    if not wanted:
        return None
    holding = [c for c in chunks if wanted in squash(c["text"])]
    if cited:
        for chunk in holding:
            if chunk["source"] == cited[0] and chunk["page_start"] <= cited[1] <= chunk["page_end"]:
                return cited[0], int(cited[1])
    holding.sort(key=lambda c: (c["source"] != (cited or ("",))[0], c["source"], c["page_start"]))
    return (holding[0]["source"], int(holding[0]["page_start"])) if holding else None


def _record(event: dict, chunks: list[dict]) -> HumanQA | None:
    """The QA record an accepted correction makes, anchored where its evidence really is; None
    when there is no correction and evidence. The evidence is the passage the user quoted, else
    the sentence the app showed as support."""
    correction = (event.get("correction") or "").strip()
    evidence = (event.get("user_evidence") or event.get("evidence") or "").strip()
    if not (correction and evidence):
        return None
    citations = event.get("citations") or []
    cited = (citations[0][0], int(citations[0][1])) if citations else None
    found = _locate(evidence, chunks, cited)
    source, page = found or cited or ("?", 1)
    return HumanQA(id=f"fb-{event['id']}", question=event["question"].strip(), answer=correction,
                   evidence=evidence, source=source, page=int(page), domain="feedback",
                   difficulty="medium", type="factual")  # fmt: skip


def _hard(event: dict, why: str) -> dict:
    return {"id": f"fb-{event['id']}", "question": event["question"], "answer": event.get("answer", ""),
            "reason": event.get("reason") or "", "why": why, "bundle_version": event.get("bundle_version"),
            "citations": event.get("citations") or []}  # fmt: skip


def collect(events: list[dict], reviews: dict[str, dict], chunks: list[dict],
            min_overlap: float) -> FeedbackData:  # fmt: skip
    """Accepted events → QA records (verified against the chunks) and hard questions."""
    out = FeedbackData()
    counts = {"events": len(events), "pending": len(pending(events, reviews)), "accepted": 0,
              "rejected": 0, "records": 0, "unverifiable": 0, "hard_questions": 0}  # fmt: skip
    for event in sorted(events, key=lambda e: e["id"]):
        decision = reviews.get(event["id"], {}).get("decision")
        if decision == "reject":
            counts["rejected"] += 1
        if decision != "accept":
            continue
        counts["accepted"] += 1
        record = _record(event, chunks)
        if record is None:
            out.hard.append(_hard(event, "no correction with evidence"))
            continue
        if resolve_evidence(record, chunks, min_overlap).method == "unresolved":
            counts["unverifiable"] += 1
            log.warning("feedback %s: the evidence is not in %s; kept as a hard question",
                        event["id"], record.source)  # fmt: skip
            out.hard.append(_hard(event, "evidence not found in the cited document"))
            continue
        out.records.append(record)
    counts["records"] = len(out.records)
    counts["hard_questions"] = len(out.hard)
    out.stats = counts
    return out
