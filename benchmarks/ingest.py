"""Ingest throughput vs raw pypdf, measured in the same run.

Baseline: `PdfReader(f).pages[i].extract_text()` over every page of every file, one process.
Ours: the full `ingest` stage (sniffing, hashing, dedup, extraction, Korean cleanup, header/
footer removal, JSONL + report writing) with 1 and with 2 workers. Ratios are throughput
ours / raw (higher is better; targets: >= 0.9 with one worker, >= 1.5 with two).

    python benchmarks/ingest.py [--pdfs data/pdfs] [--repeat 3]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def raw_pypdf(files: list[Path]) -> int:
    from pypdf import PdfReader

    pages = 0
    for path in files:
        for page in PdfReader(path).pages:
            page.extract_text()
            pages += 1
    return pages


def ours(folder: Path, workers: int) -> int:
    from pdfqa.config import IngestConfig, Paths
    from pdfqa.corpus.ingest import run_ingest

    with tempfile.TemporaryDirectory() as tmp:
        paths = Paths(
            pdfs=folder,
            pages=Path(tmp) / "pages.jsonl",
            ingest_report=Path(tmp) / "report.json",
        )
        summary = run_ingest(IngestConfig(workers=workers), paths)
    return summary.report["totals"]["pages"]


def best_time(fn, repeat: int) -> tuple[float, int]:
    times, result = [], 0
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pdfs", type=Path, default=ROOT / "data" / "pdfs")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    logging.getLogger("pypdf").setLevel(logging.CRITICAL)
    logging.getLogger("pdfqa").setLevel(logging.CRITICAL)
    files = sorted(p for p in args.pdfs.rglob("*") if p.suffix.lower() == ".pdf")
    mb = sum(p.stat().st_size for p in files) / 1e6
    print(f"corpus: {len(files)} files, {mb:.1f} MB in {args.pdfs}; best of {args.repeat}")

    raw_s, raw_pages = best_time(lambda: raw_pypdf(files), args.repeat)
    print(f"raw pypdf extract_text : {raw_pages / raw_s:7.1f} pages/s  ({raw_s:.2f} s)")
    for workers in (1, 2):
        s, pages = best_time(lambda w=workers: ours(args.pdfs, w), args.repeat)
        print(
            f"pdfqa ingest, {workers} worker{'s' if workers > 1 else ' '}: {pages / s:7.1f} pages/s "
            f" ({s:.2f} s)  ratio vs raw = {raw_s / s:.2f}x"
        )


if __name__ == "__main__":
    main()
