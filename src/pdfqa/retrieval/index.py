"""Dense (FAISS), sparse (Korean BM25) and hybrid retrieval over chunks.

``Retriever.from_dir(index_dir)`` is the one entry point later stages, the CLI and the app use.
Hybrid search fuses the two rankings with reciprocal-rank fusion (robust to the different score
scales) or a weighted sum of min-max-normalised scores; an optional cross-encoder re-ranks the
fused candidates (off by default: too slow on CPU); a learned model over dense, BM25 and coverage
features, fitted on val by the ``index`` stage, re-orders the fused top 5
(``pdfqa.retrieval.fusion``). A search can be restricted to some documents
and pages (``Scope``). FAISS is the embedded default: exact ``flat`` for the sample, and for large
corpora ``ivf``/``ivfpq``/``hnsw`` (``benchmarks/scale.py``), IVF indexes opened memory-mapped
(``index.mmap``). ``index.store: qdrant`` keeps the same interface on Qdrant
(``pdfqa.retrieval.qdrant``).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from pdfqa.retrieval.fusion import candidate_features, reorder

Mode = Literal["dense", "bm25", "hybrid"]
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Hit:
    chunk_id: str
    score: float
    text: str
    source: str
    page_start: int
    page_end: int

    def pages(self) -> str:
        return (
            str(self.page_start)
            if self.page_start == self.page_end
            else f"{self.page_start}-{self.page_end}"
        )


def _encode(
    model, texts: Sequence[str], prompt: str, batch_size: int, progress: bool
) -> np.ndarray:
    """L2-normalised embeddings, with the model's prompt of that name when it has one (e5)."""
    vectors = model.encode(
        list(texts), prompt_name=prompt if prompt in (model.prompts or {}) else None,
        batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
        show_progress_bar=progress,
    )  # fmt: skip
    return np.asarray(vectors, dtype=np.float32)


def encode_passages(
    model, texts: Sequence[str], batch_size: int = 32, progress: bool = False
) -> np.ndarray:
    return _encode(model, texts, "passage", batch_size, progress)


def encode_queries(model, queries: Sequence[str], batch_size: int = 32) -> np.ndarray:
    return _encode(model, queries, "query", batch_size, False)


@dataclass(frozen=True)
class Scope:
    """Restrict a search to some documents (``sources``, file names as in chunks) and/or a page
    range (a chunk counts when its pages overlap it). None: no restriction."""

    sources: frozenset[str] | None = None
    pages: tuple[int, int] | None = None

    def admits(self, chunk: dict) -> bool:
        if self.sources is not None and chunk["source"] not in self.sources:
            return False
        if self.pages is not None:
            low, high = self.pages
            return chunk["page_end"] >= low and chunk["page_start"] <= high
        return True

    @classmethod
    def of(cls, sources=None, pages=None) -> Scope | None:
        if not sources and pages is None:
            return None
        return cls(frozenset(sources) if sources else None, tuple(pages) if pages else None)


def build_faiss(
    vectors: np.ndarray,
    kind: str = "flat",
    nlist: int = 64,
    hnsw_m: int = 32,
    *,
    nprobe: int = 8,
    pq_m: int = 16,
    ef_search: int = 64,
):
    """Inner product on normalised vectors = cosine. ``flat`` is exact; ``ivf`` (inverted lists,
    ``nprobe`` of ``nlist`` visited), ``ivfpq`` (the same with product-quantised codes: ``pq_m``
    bytes a vector instead of 4 × dim) and ``hnsw`` (graph) trade a little recall for speed and
    memory on large corpora."""
    import faiss

    dim = vectors.shape[1]
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind in ("ivf", "ivfpq"):
        nlist = max(1, min(nlist, len(vectors) // 39 or 1))  # faiss wants ~39 points per centroid
        quantizer = faiss.IndexFlatIP(dim)
        if kind == "ivf":
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        else:
            if dim % pq_m:
                raise ValueError(f"index.pq_m={pq_m} must divide the embedding size {dim}")
            bits = 8 if len(vectors) >= 39 * 256 else 4  # 2^bits centroids per sub-quantiser
            index = faiss.IndexIVFPQ(quantizer, dim, nlist, pq_m, bits, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, nprobe)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = ef_search
    else:
        raise ValueError(f"unknown dense index {kind!r} (flat, ivf, ivfpq or hnsw)")
    index.add(vectors)
    return index


def read_faiss(path: Path, mmap: bool = False):
    """A saved FAISS index; ``mmap``: the vectors stay on disk and pages are read on demand (the
    OS page cache shares them between processes), read-only."""
    import faiss

    flags = faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY if mmap else 0
    return faiss.read_index(str(path), flags)


def _search_params(index, ids: np.ndarray):
    """FAISS search parameters that only admit ``ids`` (the index type's own kind, so IVF
    keeps its nprobe and HNSW its efSearch)."""
    import faiss

    selector = faiss.IDSelectorBatch(ids.astype("int64"))
    ivf = faiss.try_extract_index_ivf(index)
    if ivf is not None:
        return faiss.SearchParametersIVF(sel=selector, nprobe=ivf.nprobe), selector
    if isinstance(index, faiss.IndexHNSW):
        return faiss.SearchParametersHNSW(sel=selector, efSearch=index.hnsw.efSearch), selector
    return faiss.SearchParameters(sel=selector), selector


def rrf(
    rankings: Sequence[Sequence[int]], k: int = 60, weights: Sequence[float] | None = None
) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of weight/(k + rank) over the rankings a document appears in."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights or [1.0] * len(rankings), strict=True):
        for rank, doc in enumerate(ranking, 1):
            scores[doc] = scores.get(doc, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


def weighted_fusion(
    results: Sequence[Sequence[tuple[int, float]]], weights: Sequence[float]
) -> list[tuple[int, float]]:
    """Weighted sum of min-max normalised scores (a document missing from a list scores 0 there)."""
    scores: dict[int, float] = {}
    for result, weight in zip(results, weights, strict=True):
        if not result:
            continue
        values = [s for _, s in result]
        low, high = min(values), max(values)
        for doc, score in result:
            norm = 1.0 if high == low else (score - low) / (high - low)
            scores[doc] = scores.get(doc, 0.0) + weight * norm
    return sorted(scores.items(), key=lambda item: (-item[1], item[0]))


class Retriever:
    """Search chunks by dense, BM25 or hybrid ranking. Build with ``build``; load with
    ``from_dir``. The index directory holds the chunks, the FAISS index, the BM25 index and a
    manifest naming the embedder, so a loaded retriever needs nothing else."""

    def __init__(
        self,
        chunks: list[dict],
        model,
        dense,
        bm25,
        settings: dict,
        reranker: Callable | None = None,
    ):
        self.chunks = chunks
        self.model = model
        self.dense = dense
        self.bm25 = bm25
        self.settings = settings
        self.source_dir: Path | None = None  # the index directory it was loaded from
        # the same questions are searched again and again in one process (the gate's signals,
        # then every system's answers; the app's repeated questions): remember recent ones
        self._vectors: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._rankings: OrderedDict[tuple, list[tuple[int, float]]] = OrderedDict()
        self._memo_lock = threading.Lock()
        self._terms: dict[
            int, tuple
        ] = {}  # chunk index → its terms (the learned fusion's coverage)
        self.reranker = reranker

    @property
    def reranker(self) -> Callable | None:
        return self._reranker

    @reranker.setter
    def reranker(self, value: Callable | None) -> None:
        """A new re-ranker changes every hybrid ranking: forget the remembered ones."""
        with self._memo_lock:
            self._reranker = value
            self._rankings.clear()

    @classmethod
    def build(
        cls, chunks: list[dict], model, model_ref: str, settings: dict, progress: bool = True
    ) -> Retriever:

        texts = [c["text"] for c in chunks]
        vectors = encode_passages(model, texts, progress=progress)
        return cls.from_vectors(chunks, vectors, model, model_ref, settings)

    @classmethod
    def from_vectors(
        cls, chunks: list[dict], vectors: np.ndarray, model, model_ref: str, settings: dict
    ) -> Retriever:
        """The index over already computed passage embeddings (the Ray engine computes them)."""
        from pdfqa.bm25 import KoreanBM25

        s = settings
        dense = build_faiss(vectors, s["dense"], s["ivf_nlist"], s["hnsw_m"],
                            nprobe=s.get("ivf_nprobe", 8), pq_m=s.get("pq_m", 16),
                            ef_search=s.get("hnsw_ef_search", 64))  # fmt: skip
        bm25 = KoreanBM25([c["text"] for c in chunks], k1=s["bm25_k1"], b=s["bm25_b"])
        return cls(chunks, model, dense, bm25, dict(settings, model=model_ref))

    def save(self, directory: Path) -> None:
        import faiss

        from pdfqa.jsonio import write_json, write_jsonl

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        write_jsonl(directory / "chunks.jsonl", self.chunks)
        faiss.write_index(self.dense, str(directory / "dense.faiss"))
        self.bm25.save(directory / "bm25")
        write_json(directory / MANIFEST, {**self.settings, "n_chunks": len(self.chunks)})

    @classmethod
    def from_dir(cls, directory: Path | str, model=None, base_dir: Path | None = None) -> Retriever:
        """Load an index written by the ``index`` stage (the embedder is loaded unless given)."""
        from pdfqa.bm25 import KoreanBM25
        from pdfqa.errors import PdfqaError
        from pdfqa.jsonio import read_jsonl

        directory = Path(directory)
        if not (directory / MANIFEST).exists():
            raise PdfqaError(f"no retrieval index in {directory}: run `dvc repro index`")
        settings = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        chunks = list(read_jsonl(directory / "chunks.jsonl"))
        if model is None:
            from pdfqa.models import load_sentence_transformer

            model = load_sentence_transformer(settings["model"], *([base_dir] if base_dir else []))
        if settings.get("store", "faiss") == "qdrant":
            from pdfqa.retrieval.qdrant import QdrantRetriever

            return QdrantRetriever.open(directory, chunks, model, settings)
        dense = read_faiss(directory / "dense.faiss", bool(settings.get("mmap")))
        bm25 = KoreanBM25.load(directory / "bm25", [c["text"] for c in chunks])
        retriever = cls(chunks, model, dense, bm25, settings)
        retriever.source_dir = directory
        return retriever

    def with_chunks(self, new_chunks: list[dict]) -> Retriever:
        """A new retriever that also searches ``new_chunks`` (this one is left as it was, so a
        server can swap the reference while other requests still read the old one). Only the
        new chunks are embedded; BM25 is rebuilt over all texts (seconds for 10^4 chunks)."""
        import faiss

        from pdfqa.bm25 import KoreanBM25

        known = {c["chunk_id"] for c in self.chunks}
        fresh = [c for c in new_chunks if c["chunk_id"] not in known]
        if not fresh:
            return self
        if self.settings.get("mmap") and self.source_dir is not None:
            dense = read_faiss(self.source_dir / "dense.faiss")  # memory-mapped lists can't grow
        else:
            dense = faiss.clone_index(self.dense)
        dense.add(encode_passages(self.model, [c["text"] for c in fresh]))
        chunks = self.chunks + fresh
        s = self.settings
        bm25 = KoreanBM25(
            [c["text"] for c in chunks], k1=s.get("bm25_k1", 1.5), b=s.get("bm25_b", 0.75)
        )
        return Retriever(chunks, self.model, dense, bm25, dict(s), self.reranker)

    # -- searching ---------------------------------------------------------------------------
    def vectors(self, texts: Sequence[str], kind: str = "passage") -> np.ndarray:
        """Embeddings of ``texts`` (``kind``: query | passage), each text encoded once per
        retriever: the extractive answerer scores the same passages' sentences for many
        questions. Up to ``MEMO_SIZE`` recent texts are kept (thread-safe: the app's users
        share one retriever)."""
        if not texts:
            return np.zeros((0, self.model.get_sentence_embedding_dimension()), "float32")
        cache = self._vectors
        with self._memo_lock:
            known = {t: cache[(kind, t)] for t in texts if (kind, t) in cache}
            for text in known:
                cache.move_to_end((kind, text))
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = _encode(self.model, missing, kind, 32, False)
            known.update(zip(missing, fresh, strict=True))
            with self._memo_lock:
                for text in missing:
                    _remember(cache, (kind, text), known[text])
        return np.stack([known[t] for t in texts])

    def query_vector(self, query: str) -> np.ndarray:
        """A (1, dim) array: the query's embedding (remembered, see ``vectors``)."""
        return self.vectors([query], "query")

    def _admitted(self, scope: Scope | None) -> np.ndarray | None:
        if scope is None:
            return None
        return np.array([i for i, c in enumerate(self.chunks) if scope.admits(c)], dtype="int64")

    def dense_search(
        self, query: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        ids_in = self._admitted(scope)
        if ids_in is not None and not len(ids_in):
            return []
        k = min(k, len(self.chunks) if ids_in is None else len(ids_in))
        vector = self.query_vector(query)
        if ids_in is None:
            scores, ids = self.dense.search(vector, k)
        else:
            params, _keep = _search_params(self.dense, ids_in)  # _keep: the selector outlives C++
            scores, ids = self.dense.search(vector, k, params=params)
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def sparse_search(
        self, query: str, k: int, scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        ids_in = self._admitted(scope)
        if ids_in is None:
            return self.bm25.search(query, k)
        mask = np.zeros(len(self.chunks), dtype=np.float32)
        mask[ids_in] = 1.0
        return self.bm25.search(query, k, weight_mask=mask)

    def ranked(
        self, query: str, k: int, mode: Mode = "hybrid", scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        """(chunk index, score) best first; a repeated search is answered from memory (the
        index of a ``Retriever`` never changes: ``with_chunks`` makes a new one)."""
        key = (query, k, mode, scope)
        with self._memo_lock:
            found = self._rankings.get(key)
            if found is not None:
                self._rankings.move_to_end(key)
        if found is None:
            found = self._ranked(query, k, mode, scope)
            with self._memo_lock:
                _remember(self._rankings, key, found)
        return list(found)

    def _ranked(
        self, query: str, k: int, mode: Mode = "hybrid", scope: Scope | None = None
    ) -> list[tuple[int, float]]:
        if mode == "dense":
            return self.dense_search(query, k, scope)
        if mode == "bm25":
            return self.sparse_search(query, k, scope)
        depth = max(k, int(self.settings.get("candidates", 50)))
        dense, sparse = (
            self.dense_search(query, depth, scope),
            self.sparse_search(query, depth, scope),
        )
        if self.settings.get("fusion", "rrf") == "weighted":
            w = float(self.settings.get("dense_weight", 0.5))
            fused = weighted_fusion([dense, sparse], [w, 1 - w])
        else:
            fused = rrf(
                [[i for i, _ in dense], [i for i, _ in sparse]], int(self.settings.get("rrf_k", 60))
            )
        model = self.settings.get("fusion_model")
        if model and self.reranker is None:
            top = [i for i, _ in fused[: int(model["top"])]]
            fused = reorder(model, fused, candidate_features(top, dense, sparse,
                                                             self._coverage(query)))  # fmt: skip
        if self.reranker is not None:
            candidates = fused[:depth]
            scores = self.reranker(query, [self.chunks[i]["text"] for i, _ in candidates])
            fused = sorted(
                zip([i for i, _ in candidates], map(float, scores), strict=True),
                key=lambda x: -x[1],
            )
        return fused[:k]

    # -- the learned fusion (pdfqa.retrieval.fusion) ---------------------------------------
    def _coverage(self, query: str) -> Callable[[int], float]:
        """Chunk index → IDF-weighted share of the query's content words in that chunk (each
        chunk's terms are computed once per retriever)."""
        from pdfqa.korean import covered_share, question_words, text_terms

        words = question_words(query)

        def coverage(index: int) -> float:
            if not words:
                return 0.0
            terms = self._terms.get(index)
            if terms is None:
                terms = self._terms[index] = text_terms(self.chunks[index]["text"])
            return covered_share(words, terms, self.bm25.idf)

        return coverage

    def fusion_candidates(self, query: str) -> tuple[list[int], np.ndarray]:
        """Every chunk hybrid search fuses for ``query`` (the dense and BM25 top
        ``candidates``, by chunk index) and its fusion features: what the model is fitted on."""
        depth = int(self.settings.get("candidates", 50))
        dense, sparse = self.dense_search(query, depth), self.sparse_search(query, depth)
        ids = sorted({i for i, _ in dense} | {i for i, _ in sparse})
        return ids, candidate_features(ids, dense, sparse, self._coverage(query))

    def use_fusion_model(self, model: dict | None) -> None:
        """Serve hybrid search with ``model`` re-ordering its first results (None: the plain
        fusion); it is saved in the manifest. Remembered rankings are forgotten."""
        with self._memo_lock:
            self.settings = {**self.settings, "fusion_model": model}
            self._rankings.clear()

    def search(
        self, query: str, k: int = 5, mode: Mode = "hybrid", scope: Scope | None = None
    ) -> list[Hit]:
        hits = []
        for index, score in self.ranked(query, k, mode, scope):
            chunk = self.chunks[index]
            hits.append(
                Hit(
                    chunk["chunk_id"],
                    score,
                    chunk["text"],
                    chunk["source"],
                    chunk["page_start"],
                    chunk["page_end"],
                )
            )
        return hits


MEMO_SIZE = 20_000  # remembered texts (384 floats each: ~30 MB) and searches per retriever


def _remember(cache: OrderedDict, key, value) -> None:
    cache[key] = value
    if len(cache) > MEMO_SIZE:
        cache.popitem(last=False)


def cross_encoder_reranker(model_ref: str) -> Callable[[str, list[str]], list[float]]:
    """Optional re-ranking hook: any sentence-transformers CrossEncoder reference."""
    from sentence_transformers import CrossEncoder

    from pdfqa.models import resolve

    model = CrossEncoder(resolve(model_ref))
    return lambda query, texts: model.predict([(query, t) for t in texts]).tolist()
