"""Stage index: chunks + fine-tuned embedder → models/index/ (FAISS dense + Korean BM25, and
the learned fusion fitted on the val split). The passage vectors train_embedder already
computed (models/corpus_vectors/) are reused when they are of exactly these chunks."""

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
    from pdfqa.retrieval import Retriever, corpus_vectors, encode_passages

    paths = cfg.paths
    if not (paths.embedder / "modules.json").exists():
        raise PdfqaError(
            f"no fine-tuned embedder in {paths.embedder}: run `dvc repro train_embedder`"
        )
    ic = cfg.index
    chunks = list(read_jsonl(paths.chunks))
    model = load_sentence_transformer(str(paths.embedder))
    start = time.perf_counter()
    texts = [c["text"] for c in chunks]
    if ic.engine == "ray":
        from pdfqa.retrieval.ray_embed import embed_passages_ray

        vectors = embed_passages_ray(texts, str(paths.embedder), ic.ray_actors)
    else:
        vectors = corpus_vectors.load(paths.corpus_vectors, chunks, "finetuned", model)
        if vectors is None:
            vectors = encode_passages(model, texts, progress=True)
    staging = paths.index.with_name(paths.index.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    settings = ic.model_dump(mode="json")
    if ic.store == "qdrant":
        from pdfqa.retrieval.qdrant import QdrantRetriever

        retriever = QdrantRetriever.create(chunks, vectors, model, str(paths.embedder), settings,
                                           staging)  # fmt: skip
        retriever.save(staging)
        retriever.close()  # local mode: release the collection before the directory moves
    else:
        retriever = Retriever.from_vectors(chunks, vectors, model, str(paths.embedder), settings)
        if ic.learned_fusion:
            from pdfqa.retrieval.fusion import fit

            val = list(read_jsonl(paths.qa_split("val")))
            retriever.use_fusion_model(fit(retriever, val, ic.learned_fusion_top))
        retriever.save(staging)
    shutil.rmtree(paths.index, ignore_errors=True)
    staging.rename(paths.index)
    log.info("indexed %d chunks (%s, dense %s, embedded by %s) in %.1f s → %s", len(chunks),
             ic.store, ic.dense, ic.engine, time.perf_counter() - start, paths.index)  # fmt: skip


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("index", main, __doc__))
