"""Stage synth_qa: chunks (train pages only) → data/qa/synthetic.jsonl (ICT and/or LLM pairs)."""

from __future__ import annotations

import json
import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.synth_qa")


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_jsonl
    from pdfqa.qa import synthesize

    paths = cfg.paths
    splits_file = paths.qa_dir / "splits.json"
    if not splits_file.exists():
        raise PdfqaError(f"{splits_file} not found: run the qa stage first (dvc repro)")
    chunks = list(read_jsonl(paths.chunks))
    page_split = json.loads(splits_file.read_text(encoding="utf-8"))["pages"]

    pairs = synthesize(
        chunks, page_split, cfg.synth_qa, splitter=cfg.chunk.splitter,
        generator_model=cfg.generator.base_model, base_dir=paths.base_models, seed=cfg.seed,
    )  # fmt: skip

    write_jsonl(paths.synthetic_qa, pairs)
    log.info("%d synthetic train pairs → %s", len(pairs), paths.synthetic_qa)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("synth_qa", main, __doc__))
