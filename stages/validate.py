"""Stage validate: Great Expectations suites over pages, chunks and QA → Data Docs + metrics.

A failing critical expectation fails the stage (and so `dvc repro`) with the suite, the
expectation and up to five offending rows; warnings never fail it.
"""

from __future__ import annotations

import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.validate")


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.qa import SPLITS, run_gate
    from pdfqa.qa.validation import describe

    paths = cfg.paths
    inputs = [paths.pages, paths.chunks, paths.synthetic_qa] + [paths.qa_split(s) for s in SPLITS]
    missing = [str(p) for p in inputs if not p.exists()]
    if missing:
        raise PdfqaError(f"missing inputs: {', '.join(missing)} (run dvc repro)")

    gate = run_gate(
        list(read_jsonl(paths.pages)), list(read_jsonl(paths.chunks)),
        {s: list(read_jsonl(paths.qa_split(s))) for s in SPLITS}, list(read_jsonl(paths.synthetic_qa)),
        cfg.validate_, (cfg.chunk.min_tokens, cfg.chunk.max_tokens), paths.data_docs,
    )  # fmt: skip

    # On failure the failing expectations go into the metrics too, so a PR report can name them
    # (dvc repro stops here; a passing gate writes the same bytes as always).
    failed = {"failed_expectations": [describe(o) for o in gate.failed]} if gate.failed else {}
    write_json(paths.data_quality_metrics, {**gate.summary, **failed})
    if gate.failed:
        raise PdfqaError(gate.failure_message(paths.data_docs))
    log.info("data quality gate passed; Data Docs: %s", paths.data_docs / "index.html")


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("validate", main, __doc__))
