"""Stage chunk: data/interim/pages.jsonl → data/processed/chunks.jsonl."""

from __future__ import annotations

import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.chunk")


def main(cfg: Params) -> None:
    from pdfqa.corpus import chunk_pages
    from pdfqa.jsonio import read_jsonl, write_jsonl

    if not cfg.paths.pages.exists():
        raise PdfqaError(f"{cfg.paths.pages} not found: run the ingest stage first (dvc repro)")
    pages = [p for p in read_jsonl(cfg.paths.pages) if p["text"].strip()]
    count = None
    if cfg.chunk.tokenizer == "embedder":
        from pdfqa.models import token_counter_for

        count = token_counter_for(cfg.retriever.base_model, cfg.paths.base_models)
    chunks = chunk_pages(pages, cfg.chunk, count=count)
    if not chunks:
        raise PdfqaError(f"no text to chunk in {cfg.paths.pages}")
    write_jsonl(cfg.paths.chunks, (c.to_record() for c in chunks))
    sizes = sorted(c.n_tokens for c in chunks)
    log.info(
        "%d chunks from %d pages (%s tokens: median %d, max %d, bound %d, overlap %d) → %s",
        len(chunks), len(pages), cfg.chunk.tokenizer, sizes[len(sizes) // 2], sizes[-1],
        cfg.chunk.max_tokens, cfg.chunk.overlap_tokens, cfg.paths.chunks,
    )  # fmt: skip


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("chunk", main, __doc__))
