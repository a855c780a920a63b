"""Stage index: chunks + fine-tuned embedder → models/index/ (FAISS dense + Korean BM25)."""

from __future__ import annotations

import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.index")


def main(cfg: Params) -> None:
    import shutil
    import time

    from pdfqa.jsonio import read_jsonl
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import Retriever

    paths = cfg.paths
    if not (paths.embedder / "modules.json").exists():
        raise PdfqaError(
            f"no fine-tuned embedder in {paths.embedder}: run `dvc repro train_embedder`"
        )
    chunks = list(read_jsonl(paths.chunks))
    model = load_sentence_transformer(str(paths.embedder))
    start = time.perf_counter()
    retriever = Retriever.build(
        chunks, model, str(paths.embedder), cfg.index.model_dump(mode="json")
    )
    staging = paths.index.with_name(paths.index.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    retriever.save(staging)
    shutil.rmtree(paths.index, ignore_errors=True)
    staging.rename(paths.index)
    log.info("indexed %d chunks (dense %s + BM25) in %.1f s → %s",
             len(chunks), cfg.index.dense, time.perf_counter() - start, paths.index)  # fmt: skip


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("index", main, __doc__))
