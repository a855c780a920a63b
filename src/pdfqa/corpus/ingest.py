"""Corpus-level ingest: find PDFs, skip duplicates, extract in parallel, write pages + report.

Good files are never lost because of a bad one: each file is read in isolation and its
problem is recorded. Output order depends only on file names, never on which worker finished
first, so ``pages.jsonl`` is byte-identical across runs and worker counts.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from pdfqa.config import IngestConfig, Paths
from pdfqa.corpus.cleanup import CleanupOptions
from pdfqa.corpus.pdf import FLAG_MESSAGES, PdfResult, content_id, read_pdf
from pdfqa.errors import PdfqaError
from pdfqa.jsonio import write_json, write_jsonl
from pdfqa.korean import hangul_ratio

log = logging.getLogger("pdfqa.ingest")


@dataclass
class IngestSummary:
    report: dict
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def discover(folder: Path) -> list[Path]:
    """All ``*.pdf`` files under folder (any case, sub-folders included), sorted by path."""
    if not folder.is_dir():
        raise PdfqaError(
            f"PDF folder {folder} does not exist: put PDFs there or set paths.pdfs in params.yaml"
        )
    files = [p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".pdf"]
    return sorted(files, key=lambda p: p.relative_to(folder).as_posix())


def _read_one(args: tuple[str, str, int, CleanupOptions]) -> PdfResult:
    path, source, min_chars, cleanup = args
    return read_pdf(source, Path(path).read_bytes(), min_chars, cleanup)


def _page_ranges(pages: list[int]) -> str:
    ranges, start = [], None
    for i, page in enumerate(pages):
        if start is None:
            start = page
        if i + 1 == len(pages) or pages[i + 1] != page + 1:
            ranges.append(str(start) if start == page else f"{start}-{page}")
            start = None
    return ", ".join(ranges)


def _file_entry(result: PdfResult) -> tuple[dict, list[str]]:
    """Report entry and the human-readable problems for one extracted file."""
    if result.skipped_reason:
        entry = {"status": "skipped", "skipped_reason": result.skipped_reason}
        return entry, [result.skipped_reason]
    text = "\n".join(p.text for p in result.pages)
    flagged: dict[str, list[int]] = {}
    for page in result.pages:
        for flag in page.flags:
            flagged.setdefault(flag, []).append(page.page)
    problems = [
        f"{len(pages)}/{len(result.pages)} pages: {FLAG_MESSAGES[flag]} (pages {_page_ranges(pages)})"
        for flag, pages in sorted(flagged.items())
        if flag in FLAG_MESSAGES
    ]
    entry = {
        "status": "ok",
        "pages": len(result.pages),
        "chars": sum(len(p.text) for p in result.pages),
        "hangul_ratio": round(hangul_ratio(text), 4),
        "flagged_pages": flagged,
        "pypdf_warnings": result.warnings,
        "n_pypdf_warnings": sum(result.warnings.values()),
    }
    return entry, problems


def _extract_ray(jobs: list[tuple[str, str, int, CleanupOptions]]) -> list[PdfResult]:
    """The same ``read_pdf`` per file as Ray Data tasks (``read_binary_files`` → ``map``), on a
    cluster when ``RAY_ADDRESS`` is set. Results are sorted like the local path's, so
    ``pages.jsonl`` comes out byte for byte the same."""
    import pickle

    from pdfqa.ray_runtime import ray_session

    by_path = {os.path.abspath(job[0]): job for job in jobs}

    def parse(row: dict) -> dict:
        path = row["path"] if row["path"] in by_path else os.path.abspath("/" + row["path"])
        _, source, min_chars, cleanup = by_path[path]
        result = read_pdf(source, row["bytes"], min_chars, cleanup)
        return {"source": source, "result": pickle.dumps(result)}

    with ray_session() as ray:
        dataset = ray.data.read_binary_files(sorted(by_path), include_paths=True)
        rows = dataset.map(parse).take_all()
    return sorted((pickle.loads(row["result"]) for row in rows), key=lambda r: r.source)


def _extract_all(jobs: list[tuple[str, str, int, CleanupOptions]], workers: int) -> list[PdfResult]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="file", desc="ingest", leave=False, disable=None)
    results: list[PdfResult] = []
    try:
        if workers <= 1 or len(jobs) <= 1:
            for job in jobs:
                results.append(_read_one(job))
                bar.update()
        else:
            # Largest files first so one big PDF does not start last and leave a core idle.
            order = sorted(jobs, key=lambda job: -os.path.getsize(job[0]))
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs))) as pool:
                for result in pool.map(_read_one, order):
                    results.append(result)
                    bar.update()
    finally:
        bar.close()
    return sorted(results, key=lambda r: r.source)


def page_records(result: PdfResult) -> list[dict]:
    """pages.jsonl rows of one extracted file (the app's uploads use the same rows)."""
    return [{"doc_id": result.doc_id, "source": result.source, "page": page.page,
             "text": page.text, "n_chars": len(page.text), "flags": page.flags}
            for page in result.pages]  # fmt: skip


def run_ingest(cfg: IngestConfig, paths: Paths) -> IngestSummary:
    files = discover(paths.pdfs)
    if not files:
        raise PdfqaError(f"no .pdf files in {paths.pdfs}: put PDFs there or set paths.pdfs")

    files_report: dict[str, dict] = {}
    problems: list[str] = []
    jobs = []
    first_with_hash: dict[str, str] = {}
    cleanup = CleanupOptions(cfg.header_footer_min_pages, cfg.header_footer_lines)
    for path in files:
        source = path.relative_to(paths.pdfs).as_posix()
        doc_id = content_id(path.read_bytes())
        if doc_id in first_with_hash:
            original = first_with_hash[doc_id]
            files_report[source] = {
                "status": "duplicate",
                "doc_id": doc_id,
                "duplicate_of": original,
            }
            log.warning("%s: duplicate of %s (same content) — ingested once", source, original)
            continue
        first_with_hash[doc_id] = source
        jobs.append((str(path), source, cfg.min_page_chars, cleanup))

    results = (
        _extract_ray(jobs) if cfg.engine == "ray" and jobs else _extract_all(jobs, cfg.workers)
    )

    records = []
    for result in results:
        entry, file_problems = _file_entry(result)
        entry["doc_id"] = result.doc_id
        entry["warnings"] = file_problems
        files_report[result.source] = entry
        for problem in file_problems:
            level = logging.ERROR if result.skipped_reason else logging.WARNING
            log.log(
                level,
                "%s: %s%s",
                result.source,
                "skipped — " if result.skipped_reason else "",
                problem,
            )
            problems.append(f"{result.source}: {problem}")
        records.extend(page_records(result))

    ok = [e for e in files_report.values() if e["status"] == "ok"]
    all_text_chars = sum(e["chars"] for e in ok)
    report = {
        "files": dict(sorted(files_report.items())),
        "totals": {
            "files": len(files),
            "ingested": len(ok),
            "skipped": sum(1 for e in files_report.values() if e["status"] == "skipped"),
            "duplicates": sum(1 for e in files_report.values() if e["status"] == "duplicate"),
            "pages": len(records),
            "chars": all_text_chars,
            "hangul_ratio": round(hangul_ratio("\n".join(r["text"] for r in records)), 4),
            "flagged_pages": sum(1 for r in records if r["flags"]),
            "pypdf_warnings": sum(e["n_pypdf_warnings"] for e in ok),
        },
    }
    write_jsonl(paths.pages, records)
    write_json(paths.ingest_report, report)
    totals = report["totals"]
    log.info(
        "ingested %d/%d files, %d pages, %d chars (Hangul %.0f%%); %d skipped, %d duplicates, "
        "%d flagged pages, %d pypdf warnings counted → %s",
        totals["ingested"], totals["files"], totals["pages"], totals["chars"],
        100 * totals["hangul_ratio"], totals["skipped"], totals["duplicates"],
        totals["flagged_pages"], totals["pypdf_warnings"], paths.ingest_report,
    )  # fmt: skip
    if not records or not any(r["text"].strip() for r in records):
        raise PdfqaError(
            f"none of the {len(files)} PDF files in {paths.pdfs} yielded text; "
            f"see {paths.ingest_report} for the reason per file"
        )
    duplicates = [f"{s}: duplicate of {e['duplicate_of']}" for s, e in files_report.items()
                  if e["status"] == "duplicate"]  # fmt: skip
    return IngestSummary(report=report, problems=sorted(problems + duplicates))
