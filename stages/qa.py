"""Stage qa: data/qa/human.jsonl + chunks → data/qa/{train,val,test}.jsonl, stats.json, splits.json."""

from __future__ import annotations

import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.qa")


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.qa import (
        SPLITS,
        assign_splits,
        document_splits,
        load_human,
        resolve_evidence,
        section_splits,
        statistics,
        to_guide_record,
    )

    paths, qa = cfg.paths, cfg.qa
    for needed in (paths.human_qa, paths.chunks):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found (see README: 'QA data')")
    human = load_human(read_jsonl(paths.human_qa))
    chunks = list(read_jsonl(paths.chunks))
    page_counts: dict[str, int] = {}
    for chunk in chunks:
        page_counts[chunk["source"]] = max(page_counts.get(chunk["source"], 0), chunk["page_end"])
    unknown = sorted({r.source for r in human if r.source and r.source not in page_counts})
    if unknown:
        raise PdfqaError(
            f"human QA refers to PDFs that are not in the corpus: {', '.join(unknown)}"
        )

    if qa.split_by == "section":
        page_split = section_splits(page_counts, cfg.seed, qa.section_pages, qa.fractions)
    else:
        page_split = document_splits(page_counts, cfg.seed, qa.fractions)

    by_split: dict[str, list[dict]] = {s: [] for s in SPLITS}
    split_of = assign_splits(human, page_split, cfg.seed, qa.fractions)
    for record in human:
        split = split_of[record.id]
        resolution = resolve_evidence(record, chunks, qa.min_overlap)
        if resolution.method == "unresolved":
            log.warning(
                "%s: evidence not found in %s chunks (best overlap %.2f); kept with no "
                "relevant_chunks, validate will flag it", record.id, record.source, resolution.score,
            )  # fmt: skip
        by_split[split].append(to_guide_record(record, resolution, split))

    for split in SPLITS:
        write_jsonl(paths.qa_split(split), sorted(by_split[split], key=lambda r: r["id"]))
    stats = statistics(by_split, {c["chunk_id"]: c["text"] for c in chunks})
    write_json(paths.qa_dir / "stats.json", stats)
    write_json(
        paths.qa_dir / "splits.json",
        {"split_by": qa.split_by, "seed": cfg.seed,
         "pages": {src: {str(p): s for p, s in sorted(pages.items())} for src, pages in page_split.items()}},
    )  # fmt: skip
    counts = {s: stats["splits"][s]["count"] for s in SPLITS}
    log.info(
        "%d human QA records → train %d / val %d / test %d; evidence resolution %s",
        len(human), counts["train"], counts["val"], counts["test"], stats["resolution"],
    )  # fmt: skip


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("qa", main, __doc__))
