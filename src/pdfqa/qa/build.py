"""Human QA + chunks → frozen train/val/test QA sets with statistics: stage ``qa``.

Splits come from page sections (or whole documents) of every PDF, questions follow their
evidence page, and each record's evidence is anchored to the current chunks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from pdfqa.config import QAConfig
from pdfqa.errors import PdfqaError
from pdfqa.qa.records import (
    SPLITS,
    HumanQA,
    assign_splits,
    document_splits,
    resolve_evidence,
    section_splits,
    statistics,
    to_guide_record,
)

log = logging.getLogger("pdfqa.qa")


@dataclass
class QASets:
    splits: dict[str, list[dict]]  # split → guide records, sorted by id
    stats: dict  # data/qa/stats.json
    page_splits: dict  # data/qa/splits.json: which page of which PDF went to which split
    kept_out: list[str] = field(default_factory=list)  # no_test ids whose page is a test page


def build_qa_sets(human: list[HumanQA], chunks: list[dict], qa: QAConfig, seed: int,
                  no_test: frozenset[str] = frozenset()) -> QASets:  # fmt: skip
    """Anchor, split and describe the records. Records in ``no_test`` (from app feedback) that
    would land on a test page are left out entirely (``kept_out``): the test split stays frozen
    and no test page's content reaches training through them."""
    page_counts: dict[str, int] = {}
    for chunk in chunks:
        page_counts[chunk["source"]] = max(page_counts.get(chunk["source"], 0), chunk["page_end"])
    unknown = sorted({r.source for r in human if r.source and r.source not in page_counts})
    if unknown:
        raise PdfqaError(
            f"human QA refers to PDFs that are not in the corpus: {', '.join(unknown)}"
        )

    if qa.split_by == "section":
        page_split = section_splits(page_counts, seed, qa.section_pages, qa.fractions)
    else:
        page_split = document_splits(page_counts, seed, qa.fractions)

    asked = {r.source for r in human if r.source}
    for source in sorted(set(page_split) - asked):
        # a PDF nobody wrote questions for has nothing to evaluate on: every page may give
        # synthetic training pairs (the cold start: benchmarks/coldstart.py)
        log.info(
            "%s has no human questions: all its pages are train pages (synthetic pairs)", source
        )
        page_split[source] = {page: "train" for page in page_split[source]}

    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    split_of = assign_splits(human, page_split, seed, qa.fractions)
    kept_out = []
    for record in human:
        split = split_of[record.id]
        if split == "test" and record.id in no_test:
            kept_out.append(record.id)
            continue
        resolution = resolve_evidence(record, chunks, qa.min_overlap)
        if resolution.method == "unresolved":
            log.warning(
                "%s: evidence not found in %s chunks (best overlap %.2f); kept with no "
                "relevant_chunks, validate will flag it", record.id, record.source, resolution.score,
            )  # fmt: skip
        by_split[split].append(to_guide_record(record, resolution, split))

    stats = statistics(by_split, {c["chunk_id"]: c["text"] for c in chunks})
    counts = {s: stats["splits"][s]["count"] for s in SPLITS}
    log.info(
        "%d human QA records → train %d / val %d / test %d; evidence resolution %s",
        len(human), counts["train"], counts["val"], counts["test"], stats["resolution"],
    )  # fmt: skip
    return QASets(
        splits={s: sorted(by_split[s], key=lambda r: r["id"]) for s in SPLITS},
        stats=stats,
        page_splits={"split_by": qa.split_by, "seed": seed,
                     "pages": {src: {str(p): s for p, s in sorted(pages.items())}
                               for src, pages in page_split.items()}},
        kept_out=sorted(kept_out),
    )  # fmt: skip
