"""QA records: load the human set, anchor evidence to chunks, split without leakage.

People write questions against the PDF, not against chunk ids (those change with chunking
params). Each record carries a verbatim ``evidence`` passage; the ``qa`` stage finds the chunks
that contain it, so the guide's ``relevant_chunks`` always match the current chunking.

Splits are made from contiguous page ranges ("sections") of every document, so a passage and
the questions about it land in one split only, and every document contributes to every split
where it is long enough. The assignment depends only on the seed, the document and its page
count: the test split is frozen for a fixed seed and stays put when other PDFs are added.
"""

from __future__ import annotations

import hashlib
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from pdfqa.errors import PdfqaError
from pdfqa.korean import squash

SPLITS = ("train", "val", "test")
ABSTAIN_ANSWER = "문서에서 답을 찾을 수 없습니다."


class HumanQA(BaseModel):
    """One line of data/qa/human.jsonl."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    answer: str = Field(min_length=1)
    evidence: str = ""
    source: str | None = None
    page: int | None = Field(None, ge=1)
    domain: str = "general"
    difficulty: Literal["easy", "medium", "hard"]
    type: Literal["factual", "how-to", "definition", "multi-sentence", "unanswerable"]
    answerable: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> HumanQA:
        if self.answerable and not (self.evidence.strip() and self.source and self.page):
            raise ValueError("answerable records need evidence, source and page")
        if not self.answerable and self.type != "unanswerable":
            raise ValueError("records with answerable=false must have type 'unanswerable'")
        return self


def load_human(records: Iterable[dict]) -> list[HumanQA]:
    """Validate every record; all problems are reported at once, by line."""
    out, problems = [], []
    for line_no, record in enumerate(records, 1):
        try:
            out.append(HumanQA.model_validate(record))
        except ValidationError as exc:
            msg = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors()
            )
            problems.append(f"line {line_no} ({record.get('id', '?')}): {msg}")
    duplicates = [i for i, n in Counter(r.id for r in out).items() if n > 1]
    if duplicates:
        problems.append(f"duplicate ids: {', '.join(sorted(duplicates)[:10])}")
    if problems:
        raise PdfqaError("invalid human QA records:\n  " + "\n  ".join(problems[:20]))
    return out


@dataclass(frozen=True)
class Resolution:
    chunk_ids: list[str]
    method: str  # "contained" | "overlap" | "unresolved" | "unanswerable"
    score: float


def _shingles(text: str, n: int = 8) -> list[str]:
    return [text[i : i + n] for i in range(max(1, len(text) - n + 1))]


def resolve_evidence(record: HumanQA, chunks: list[dict], min_overlap: float) -> Resolution:
    """Chunks containing the evidence; else the fewest chunks that together cover at least
    ``min_overlap`` of it (an evidence cut by a chunk boundary, or with extraction noise)."""
    if not record.answerable:
        return Resolution([], "unanswerable", 0.0)
    evidence = squash(record.evidence)
    candidates = [c for c in chunks if c["source"] == record.source] or chunks
    texts = {c["chunk_id"]: squash(c["text"]) for c in candidates}
    contained = [cid for cid, text in texts.items() if evidence in text]
    if contained:
        return Resolution(contained, "contained", 1.0)
    n = min(8, max(2, len(evidence) // 4))
    shingles = _shingles(evidence, n)
    # Characters of the evidence each chunk reproduces (via the n-grams it contains).
    covered_by = {
        cid: {i + k for i, sh in enumerate(shingles) if sh in text for k in range(n)}
        for cid, text in texts.items()
    }
    chosen: list[str] = []
    covered: set[int] = set()
    while len(chosen) < 3:
        best = max(covered_by, key=lambda cid: (len(covered_by[cid] - covered), cid), default=None)
        if best is None or not covered_by[best] - covered:
            break
        chosen.append(best)
        covered |= covered_by.pop(best)
        if len(covered) / len(evidence) >= min_overlap:
            return Resolution(sorted(chosen), "overlap", round(len(covered) / len(evidence), 3))
    return Resolution([], "unresolved", round(len(covered) / max(1, len(evidence)), 3))


def _stable_seed(*parts: object) -> int:
    return int(hashlib.sha256(":".join(map(str, parts)).encode()).hexdigest()[:12], 16)


def section_splits(
    page_counts: dict[str, int],
    seed: int,
    section_pages: int,
    fractions: dict[str, float],
) -> dict[str, dict[int, str]]:
    """{source: {page: split}} from contiguous page blocks shuffled per document."""
    assignment: dict[str, dict[int, str]] = {}
    for source, n_pages in sorted(page_counts.items()):
        blocks = [
            list(range(s, min(s + section_pages, n_pages + 1)))
            for s in range(1, n_pages + 1, section_pages)
        ]
        order = list(range(len(blocks)))
        random.Random(_stable_seed(seed, source)).shuffle(order)
        n_test = round(fractions["test"] * len(blocks))
        n_val = round(fractions["val"] * len(blocks))
        labels = ["test"] * n_test + ["val"] * n_val
        labels += ["train"] * (len(blocks) - len(labels))
        pages = {}
        for block_index, label in zip(order, labels, strict=True):
            for page in blocks[block_index]:
                pages[page] = label
        assignment[source] = pages
    return assignment


def document_splits(
    page_counts: dict[str, int], seed: int, fractions: dict[str, float]
) -> dict[str, dict[int, str]]:
    """Whole documents to splits (for corpora with many documents)."""
    sources = sorted(page_counts)
    random.Random(seed).shuffle(sources)
    n_test = max(1, round(fractions["test"] * len(sources))) if len(sources) >= 3 else 0
    n_val = max(1, round(fractions["val"] * len(sources))) if len(sources) >= 3 else 0
    labels = ["test"] * n_test + ["val"] * n_val + ["train"] * (len(sources) - n_test - n_val)
    return {
        source: dict.fromkeys(range(1, page_counts[source] + 1), label)
        for source, label in zip(sources, labels, strict=True)
    }


def assign_splits(
    records: list[HumanQA],
    pages_to_split: dict[str, dict[int, str]],
    seed: int,
    fractions: dict[str, float],
) -> dict[str, str]:
    """{record id: split}. Answerable records follow their evidence page. Unanswerable ones
    have no page: each draws its split from a seeded hash of its own id, so every split gets
    about its share and adding questions never moves another one (the test split stays frozen
    and no test question ever lands in training)."""
    out = {}
    for record in records:
        if record.answerable:
            out[record.id] = pages_to_split.get(record.source or "", {}).get(
                record.page or 0, "train"
            )
        else:
            u = _stable_seed(seed, record.id) / 16**12  # uniform in [0, 1)
            test, val = fractions["test"], fractions["val"]
            out[record.id] = "test" if u < test else "val" if u < test + val else "train"
    return out


def to_guide_record(record: HumanQA, resolution: Resolution, split: str) -> dict:
    """The guide's {question, answer, relevant_chunks, domain, difficulty} plus provenance."""
    return {
        "id": record.id,
        "question": record.question,
        "answer": record.answer,
        "relevant_chunks": resolution.chunk_ids,
        "domain": record.domain,
        "difficulty": record.difficulty,
        "type": record.type,
        "answerable": record.answerable,
        "source": record.source,
        "page": record.page,
        "evidence": record.evidence,
        "resolution": resolution.method,
        "split": split,
    }


def statistics(records_by_split: dict[str, list[dict]], chunk_text: dict[str, str]) -> dict:
    """The guide's prepare_finetuning_data statistics, per split and overall."""

    def summary(records: list[dict]) -> dict:
        n = len(records)
        contexts = [
            sum(len(chunk_text[c]) for c in r["relevant_chunks"])
            for r in records
            if r["relevant_chunks"]
        ]
        return {
            "count": n,
            "answerable": sum(r["answerable"] for r in records),
            "unanswerable": sum(not r["answerable"] for r in records),
            "by_type": dict(sorted(Counter(r["type"] for r in records).items())),
            "by_difficulty": dict(sorted(Counter(r["difficulty"] for r in records).items())),
            "by_source": dict(sorted(Counter(str(r["source"]) for r in records).items())),
            "avg_question_chars": round(sum(len(r["question"]) for r in records) / n, 1)
            if n
            else 0,
            "avg_answer_chars": round(sum(len(r["answer"]) for r in records) / n, 1) if n else 0,
            "avg_context_chars": round(sum(contexts) / len(contexts), 1) if contexts else 0,
            "avg_relevant_chunks": round(sum(len(r["relevant_chunks"]) for r in records) / n, 2)
            if n
            else 0,
        }

    everything = [r for split in SPLITS for r in records_by_split[split]]
    return {
        "splits": {split: summary(records_by_split[split]) for split in SPLITS},
        "total": summary(everything),
        "resolution": dict(sorted(Counter(r["resolution"] for r in everything).items())),
        "unresolved": sorted(r["id"] for r in everything if r["resolution"] == "unresolved"),
    }
