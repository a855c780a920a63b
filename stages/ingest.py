"""Stage ingest: PDF folder → data/interim/pages.jsonl + ingest_report.json."""

from __future__ import annotations

from pdfqa.config import Params
from pdfqa.errors import PdfqaError


def main(cfg: Params) -> None:
    from pdfqa.corpus import run_ingest

    summary = run_ingest(cfg.ingest, cfg.paths)
    if cfg.ingest.strict and not summary.ok:
        listing = "\n  ".join(summary.problems)
        raise PdfqaError(
            f"ingest.strict is on and {len(summary.problems)} problem(s) were found:\n  {listing}"
        )


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("ingest", main, __doc__))
