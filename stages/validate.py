"""Stage validate: Great Expectations suites over pages, chunks and QA → Data Docs + metrics.

A failing critical expectation fails the stage (and so `dvc repro`) with the suite, the
expectation and up to five offending rows; warnings never fail it.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.validate")


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.qa import SPLITS
    from pdfqa.validation import build_frames, describe, run_validation, summarise

    paths = cfg.paths
    inputs = [paths.pages, paths.chunks, paths.synthetic_qa] + [paths.qa_split(s) for s in SPLITS]
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise PdfqaError(f"missing inputs: {', '.join(missing)} (run dvc repro)")
    bounds = SimpleNamespace(
        **cfg.validate_.model_dump(),
        max_tokens=cfg.chunk.max_tokens,
        min_tokens=cfg.chunk.min_tokens,
    )
    frames = build_frames(
        [p for p in read_jsonl(paths.pages) if "blank" not in p["flags"]],
        list(read_jsonl(paths.chunks)),
        {s: list(read_jsonl(paths.qa_split(s))) for s in SPLITS},
        list(read_jsonl(paths.synthetic_qa)),
        bounds,
    )
    outcomes = run_validation(frames, paths.data_docs)
    summary = summarise(outcomes)
    write_json(paths.data_quality_metrics, summary)
    for outcome in outcomes:
        if not outcome.success and not outcome.critical:
            log.warning("warning %s", describe(outcome))
    for suite, s in summary["suites"].items():
        log.info("%s: %d/%d expectations passed, %d failed, %d warnings",
                 suite, s["passed"], s["expectations"], s["failed"], s["warnings"])  # fmt: skip
    failed = [o for o in outcomes if not o.success and o.critical]
    if failed:
        listing = "\n  ".join(describe(o) for o in failed)
        raise PdfqaError(
            f"data quality gate failed ({len(failed)} critical expectation(s)); "
            f"Data Docs: {paths.data_docs / 'index.html'}\n  {listing}"
        )
    log.info("data quality gate passed; Data Docs: %s", paths.data_docs / "index.html")


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("validate", main, __doc__))
