"""The bundled human QA set: every evidence string is really in the extracted PDF text, and
the set has the size, spread and mix the guide asks for."""

from __future__ import annotations

from collections import Counter

import pytest
from conftest import ROOT, SAMPLE_PDFS

from pdfqa.jsonio import read_jsonl
from pdfqa.korean import squash
from pdfqa.qa.records import load_human

HUMAN = list(read_jsonl(ROOT / "data" / "qa" / "human.jsonl"))


@pytest.fixture(scope="module")
def extracted_pages() -> dict[tuple[str, int], str]:
    from pdfqa.corpus.pdf import read_pdf

    pages = {}
    for pdf in sorted(SAMPLE_PDFS.glob("*.pdf")):
        for page in read_pdf(pdf.name, pdf.read_bytes()).pages:
            pages[(pdf.name, page.page)] = squash(page.text)
    return pages


def test_records_are_valid():
    records = load_human(HUMAN)
    assert len(records) >= 150


@pytest.mark.parametrize("record", [r for r in HUMAN if r["answerable"]], ids=lambda r: r["id"])
def test_evidence_is_verbatim_in_the_extracted_page(record, extracted_pages):
    page_text = extracted_pages[(record["source"], record["page"])]
    assert squash(record["evidence"]) in page_text


def test_every_document_is_covered():
    per_source = Counter(r["source"] for r in HUMAN if r["answerable"])
    assert set(per_source) == {p.name for p in SAMPLE_PDFS.glob("*.pdf")}
    assert min(per_source.values()) >= 20


def test_mix_of_types_difficulties_and_unanswerable():
    types = Counter(r["type"] for r in HUMAN)
    assert set(types) == {"factual", "how-to", "definition", "multi-sentence", "unanswerable"}
    # issue 4 asked for ~10 %; issue 6 raised it to ~25 % so that abstention is measured on
    # more than four test questions (60 of 249; each split draws its share)
    assert 0.08 <= types["unanswerable"] / len(HUMAN) <= 0.3
    assert set(Counter(r["difficulty"] for r in HUMAN)) == {"easy", "medium", "hard"}


def test_questions_are_written_not_copied():
    for r in HUMAN:
        assert squash(r["question"]) not in squash(r["evidence"]), r["id"]
        assert r["question"].rstrip().endswith("?"), r["id"]
    assert len({squash(r["question"]) for r in HUMAN}) == len(HUMAN)
