"""Qdrant as the retrieval store (``index.store: qdrant``), behind the same ``Retriever`` interface.

One collection holds every chunk as a point with two named vectors: ``dense`` (the fine-tuned
embedder's passage embedding, cosine) and ``bm25`` (a sparse vector of Korean BM25 term weights).
The sparse vectors are computed here from the same Kiwi search tokens ``pdfqa.bm25`` indexes:
the document side carries BM25's term-frequency part ``tf / (tf + k1·(1 − b + b·dl/avgdl))``
and Qdrant multiplies in the IDF at query time (``Modifier.IDF``, Lucene's formula, the one bm25s
uses), so both backends score BM25 the same way. Hybrid search is fused by the server (two
prefetches + reciprocal-rank fusion with ``index.rrf_k``, scored exactly like ``index.rrf``). A ``Scope`` becomes a payload filter
on ``source`` and the page range.

Where the collection lives: ``index.qdrant_url`` (or ``$QDRANT_URL``; ``$QDRANT_API_KEY``) names a
server — production, the official container (docs/deploy.md) — otherwise Qdrant's local mode keeps
it in ``<index dir>/qdrant`` (tests and small corpora: exact numpy search in one process). The
index directory keeps the chunks and the BM25 statistics either way: the answer engine's
confidence signals (term IDF, coverage) read them locally.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path

import numpy as np

from pdfqa.korean import search_tokens
from pdfqa.retrieval.index import Mode, Retriever, Scope

DENSE, SPARSE = "dense", "bm25"
LOCAL_DIR = "qdrant"


def token_id(token: str) -> int:
    """A stable 32-bit sparse dimension for a search token: no vocabulary file to keep in sync,
    and a chunk uploaded later gets the same ids for the same words."""
    return int.from_bytes(hashlib.blake2b(token.encode("utf-8"), digest_size=4).digest(), "big")


def _sparse(weights: dict[int, float]):
    from qdrant_client import models

    ids = sorted(weights)
    return models.SparseVector(indices=ids, values=[float(weights[i]) for i in ids])


def document_vector(tokens: list[str], avgdl: float, k1: float, b: float):
    """BM25's term-frequency part per token (Lucene/bm25s form; IDF is the server's)."""
    norm = k1 * (1 - b + b * len(tokens) / avgdl)
    weights: dict[int, float] = {}
    for token, tf in Counter(tokens).items():
        weights[token_id(token)] = tf / (tf + norm)
    return _sparse(weights)


def query_vector(query: str):
    return _sparse({token_id(t): float(n) for t, n in Counter(search_tokens(query)).items()})


def connect(settings: dict, directory: Path):
    try:
        from qdrant_client import QdrantClient
    except ImportError:
        from pdfqa.errors import PdfqaError

        raise PdfqaError(
            'index.store qdrant needs qdrant-client: pip install -e ".[scale]"'
        ) from None

    url = settings.get("qdrant_url") or os.environ.get("QDRANT_URL")
    if url:
        return QdrantClient(url=url, api_key=os.environ.get("QDRANT_API_KEY"), timeout=60)
    return QdrantClient(path=str(Path(directory) / LOCAL_DIR))


def _filter(scope: Scope | None):
    from qdrant_client import models

    if scope is None:
        return None
    must = []
    if scope.sources is not None:
        must.append(
            models.FieldCondition(key="source", match=models.MatchAny(any=sorted(scope.sources)))
        )
    if scope.pages is not None:
        low, high = scope.pages
        must.append(models.FieldCondition(key="page_end", range=models.Range(gte=low)))
        must.append(models.FieldCondition(key="page_start", range=models.Range(lte=high)))
    return models.Filter(must=must)


def upload(client, collection: str, chunks: list[dict], vectors: np.ndarray, *, start: int,
           avgdl: float, k1: float, b: float, batch_size: int = 256) -> None:  # fmt: skip
    """Points ``start …`` for ``chunks`` (the point id is the chunk's position in the index)."""
    from qdrant_client import models
    from tqdm import tqdm

    def point(i: int, chunk: dict):
        sparse = document_vector(search_tokens(chunk["text"]) or ["∅"], avgdl, k1, b)
        payload = {"chunk_id": chunk["chunk_id"], "source": chunk["source"],
                   "page_start": int(chunk["page_start"]), "page_end": int(chunk["page_end"])}  # fmt: skip
        return models.PointStruct(
            id=start + i, vector={DENSE: vectors[i].tolist(), SPARSE: sparse}, payload=payload
        )

    for first in tqdm(range(0, len(chunks), batch_size), desc="qdrant upload", unit="batch",
                      leave=False, disable=None):  # fmt: skip
        batch = range(first, min(first + batch_size, len(chunks)))
        client.upsert(collection, points=[point(i, chunks[i]) for i in batch], wait=True)


class QdrantRetriever(Retriever):
    """``Retriever`` whose dense, BM25 and hybrid rankings come from a Qdrant collection."""

    def __init__(self, chunks, model, bm25, settings, client, avgdl: float, reranker=None):
        super().__init__(chunks, model, None, bm25, settings, reranker)
        self.client = client
        self.collection = settings.get("qdrant_collection", "pdfqa")
        self.avgdl = avgdl

    @classmethod
    def create(cls, chunks: list[dict], vectors: np.ndarray, model, model_ref: str,
               settings: dict, directory: Path) -> QdrantRetriever:  # fmt: skip
        """(Re)create the collection for ``chunks``; a local-mode collection goes into
        ``directory`` (the index directory being written)."""
        from qdrant_client import models

        from pdfqa.bm25 import KoreanBM25

        texts = [c["text"] for c in chunks]
        bm25 = KoreanBM25(texts, k1=settings["bm25_k1"], b=settings["bm25_b"])
        avgdl = float(np.mean([len(search_tokens(t) or ["∅"]) for t in texts]))
        settings = dict(settings, model=model_ref, bm25_avgdl=round(avgdl, 6))
        client = connect(settings, directory)
        name = settings.get("qdrant_collection", "pdfqa")
        if client.collection_exists(name):
            client.delete_collection(name)
        client.create_collection(
            name,
            vectors_config={DENSE: models.VectorParams(size=int(vectors.shape[1]),
                                                       distance=models.Distance.COSINE)},
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )  # fmt: skip
        if settings.get("qdrant_url") or os.environ.get("QDRANT_URL"):  # local mode has no indexes
            client.create_payload_index(name, "source", models.PayloadSchemaType.KEYWORD)
            for key in ("page_start", "page_end"):
                client.create_payload_index(name, key, models.PayloadSchemaType.INTEGER)
        upload(client, name, chunks, vectors, start=0, avgdl=avgdl, k1=settings["bm25_k1"],
               b=settings["bm25_b"])  # fmt: skip
        return cls(chunks, model, bm25, settings, client, avgdl)

    @classmethod
    def open(cls, directory: Path, chunks: list[dict], model, settings: dict) -> QdrantRetriever:
        from pdfqa.bm25 import KoreanBM25
        from pdfqa.errors import PdfqaError

        client = connect(settings, directory)
        name = settings.get("qdrant_collection", "pdfqa")
        if not client.collection_exists(name):
            raise PdfqaError(f"Qdrant has no collection {name!r}: run `dvc repro index`")
        count = client.count(name, exact=True).count
        if count < len(chunks):
            raise PdfqaError(f"Qdrant collection {name!r} holds {count} points, the index "
                             f"{len(chunks)} chunks: run `dvc repro -f -s index`")  # fmt: skip
        bm25 = KoreanBM25.load(Path(directory) / "bm25", [c["text"] for c in chunks])
        retriever = cls(chunks, model, bm25, settings, client, float(settings["bm25_avgdl"]))
        retriever.source_dir = Path(directory)
        return retriever

    def save(self, directory: Path) -> None:
        """Chunks, BM25 statistics and the manifest; the points are already in Qdrant."""
        from pdfqa.jsonio import write_json, write_jsonl

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_jsonl(directory / "chunks.jsonl", self.chunks)
        self.bm25.save(directory / "bm25")
        write_json(directory / "manifest.json", {**self.settings, "n_chunks": len(self.chunks)})

    def close(self) -> None:
        self.client.close()

    def with_chunks(self, new_chunks: list[dict]) -> QdrantRetriever:
        """Uploads become new points after the existing ones; this retriever keeps searching
        only its own chunks (ids past its list are dropped), so a swap stays atomic."""
        from pdfqa.bm25 import KoreanBM25
        from pdfqa.retrieval.index import encode_passages

        known = {c["chunk_id"] for c in self.chunks}
        fresh = [c for c in new_chunks if c["chunk_id"] not in known]
        if not fresh:
            return self
        s = self.settings
        upload(self.client, self.collection, fresh, encode_passages(self.model, [c["text"] for c in fresh]),
               start=len(self.chunks), avgdl=self.avgdl, k1=s["bm25_k1"], b=s["bm25_b"])  # fmt: skip
        chunks = self.chunks + fresh
        bm25 = KoreanBM25([c["text"] for c in chunks], k1=s["bm25_k1"], b=s["bm25_b"])
        return QdrantRetriever(chunks, self.model, bm25, dict(s), self.client, self.avgdl,
                               self.reranker)  # fmt: skip

    # -- searching ---------------------------------------------------------------------------
    def _points(self, points) -> list[tuple[int, float]]:
        return [(int(p.id), float(p.score)) for p in points if int(p.id) < len(self.chunks)]

    def dense_search(self, query: str, k: int, scope: Scope | None = None):
        vector = self.query_vector(query)[0].tolist()
        result = self.client.query_points(self.collection, query=vector, using=DENSE, limit=k,
                                          query_filter=_filter(scope), with_payload=False)  # fmt: skip
        return self._points(result.points)

    def sparse_search(self, query: str, k: int, scope: Scope | None = None):
        vector = query_vector(query)
        if not vector.indices:
            return []
        result = self.client.query_points(self.collection, query=vector, using=SPARSE, limit=k,
                                          query_filter=_filter(scope), with_payload=False)  # fmt: skip
        return [(i, s) for i, s in self._points(result.points) if s > 0]

    def ranked(self, query: str, k: int, mode: Mode = "hybrid", scope: Scope | None = None):
        from qdrant_client import models

        if mode == "dense":
            return self.dense_search(query, k, scope)
        if mode == "bm25":
            return self.sparse_search(query, k, scope)
        depth = max(k, int(self.settings.get("candidates", 50)))
        where = _filter(scope)
        prefetch = [models.Prefetch(query=self.query_vector(query)[0].tolist(),
                                    using=DENSE, limit=depth, filter=where)]  # fmt: skip
        sparse = query_vector(query)
        if sparse.indices:
            prefetch.append(models.Prefetch(query=sparse, using=SPARSE, limit=depth, filter=where))
        # Qdrant's RRF scores 1/(k + rank − 1) (rank from 1), ours 1/(k + rank): k + 1 gives the
        # same scores; equal scores are then ordered by chunk position, as ``index.rrf`` does
        k_server = int(self.settings.get("rrf_k", 60)) + 1
        result = self.client.query_points(
            self.collection, prefetch=prefetch, limit=depth, with_payload=False,
            query=models.RrfQuery(rrf=models.Rrf(k=k_server)),
        )  # fmt: skip
        fused = sorted(self._points(result.points), key=lambda item: (-round(item[1], 12), item[0]))
        if self.reranker is not None:
            scores = self.reranker(query, [self.chunks[i]["text"] for i, _ in fused])
            fused = sorted(zip([i for i, _ in fused], map(float, scores), strict=True),
                           key=lambda x: -x[1])  # fmt: skip
        return fused[:k]
