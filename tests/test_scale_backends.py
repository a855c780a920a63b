"""The retrieval stores past one machine against the embedded default on the sample corpus:
Qdrant in local mode (same top-5 as FAISS + bm25s for ≥ 95% of test questions, scoped search,
live additions, the index directory reopening) and FAISS IVF / IVF-PQ opened memory-mapped.
(Ray Data engines: test_ray_engines.py.)"""

from __future__ import annotations

import numpy as np
import pytest

from pdfqa.jsonio import read_jsonl
from pdfqa.retrieval.index import Retriever, Scope, build_faiss, read_faiss

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def two_stores(trained_retriever, tmp_path_factory):
    """The sample index as FAISS + bm25s (RRF fusion) and as a Qdrant local-mode collection
    holding the same vectors."""
    pytest.importorskip("qdrant_client", reason='pip install -e ".[scale]" (make test does)')
    from pdfqa.retrieval.qdrant import QdrantRetriever

    faiss_side = Retriever.from_dir(trained_retriever.paths.index)
    faiss_side.settings = {**faiss_side.settings, "fusion": "rrf"}
    faiss_side.use_fusion_model(None)  # Qdrant fuses server-side, without the learned re-ordering
    vectors = faiss_side.dense.reconstruct_n(0, faiss_side.dense.ntotal)
    settings = {**faiss_side.settings, "store": "qdrant", "qdrant_url": None}
    directory = tmp_path_factory.mktemp("qdrant_index")
    qdrant_side = QdrantRetriever.create(faiss_side.chunks, vectors, faiss_side.model,
                                         settings["model"], settings, directory)  # fmt: skip
    qdrant_side.save(directory)
    yield faiss_side, qdrant_side, directory
    qdrant_side.close()


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_qdrant_and_faiss_agree_on_the_top_5(two_stores, trained_retriever, mode):
    faiss_side, qdrant_side, _ = two_stores
    questions = [r["question"] for r in read_jsonl(trained_retriever.paths.qa_split("test"))]
    same = 0
    for question in questions:
        a = [i for i, _ in faiss_side.ranked(question, 5, mode)]
        b = [i for i, _ in qdrant_side.ranked(question, 5, mode)]
        same += a == b
    assert same / len(questions) >= 0.95, (mode, same, len(questions))
    if mode == "bm25":  # the same formula on both sides: the scores agree too
        question = questions[0]
        a, b = faiss_side.ranked(question, 5, mode), qdrant_side.ranked(question, 5, mode)
        assert np.allclose([s for _, s in a], [s for _, s in b], rtol=1e-4)


def test_a_scope_restricts_both_stores_to_chosen_documents_and_pages(two_stores):
    faiss_side, qdrant_side, _ = two_stores
    source = sorted({c["source"] for c in faiss_side.chunks})[0]
    scope = Scope.of([source], (2, 4))
    for retriever in (faiss_side, qdrant_side):
        for mode in ("dense", "bm25", "hybrid"):
            hits = retriever.search("한글 글꼴 설정", k=5, mode=mode, scope=scope)
            assert hits, (type(retriever).__name__, mode)
            assert all(h.source == source and h.page_end >= 2 and h.page_start <= 4 for h in hits)
    assert faiss_side.search("한글", 5, "hybrid", Scope.of(["없는.pdf"])) == []


def test_ivfpq_and_memory_mapped_indexes(tmp_path):
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(50, 32))
    vectors = centers[rng.integers(0, 50, 12000)] + 0.1 * rng.normal(size=(12000, 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    exact = build_faiss(vectors, "flat")
    _, truth = exact.search(vectors[:50], 10)
    for kind in ("ivf", "ivfpq"):
        index = build_faiss(vectors, kind, nlist=64, nprobe=8, pq_m=16)
        path = tmp_path / f"{kind}.faiss"
        import faiss

        faiss.write_index(index, str(path))
        mapped = read_faiss(path, mmap=True)
        _, found = mapped.search(vectors[:50], 10)
        recall = np.mean([len(set(f) & set(t)) / 10 for f, t in zip(found, truth, strict=True)])
        # PQ codes (16 bytes instead of 128) blur near neighbours inside a tight cluster
        assert recall >= (0.9 if kind == "ivf" else 0.3), (kind, recall)
        with pytest.raises(RuntimeError):  # read-only: the app's uploads use an in-memory copy
            mapped.add(vectors[:1])


def test_qdrant_live_additions_then_the_index_directory_reopens(two_stores):
    """(last of the Qdrant tests: it closes the shared local-mode client)"""
    from pdfqa.retrieval.qdrant import QdrantRetriever

    _, qdrant_side, directory = two_stores
    question = "ko.TeX 글꼴 설정"
    before = [h.chunk_id for h in qdrant_side.search(question, 5)]
    new = {"chunk_id": "upload-1", "source": "upload.pdf", "page_start": 1, "page_end": 1,
           "text": "펭귄 주식회사의 2027년 보안 점검 일정은 3월 14일이다."}  # fmt: skip
    grown = qdrant_side.with_chunks([new])
    assert grown.search("펭귄 주식회사 보안 점검 일정", 1)[0].chunk_id == "upload-1"
    assert all(h.chunk_id != "upload-1" for h in qdrant_side.search("펭귄 주식회사", 5))
    qdrant_side.close()  # local mode allows one client per directory
    reopened = Retriever.from_dir(directory, model=qdrant_side.model)
    assert isinstance(reopened, QdrantRetriever)
    assert [h.chunk_id for h in reopened.search(question, 5)] == before
    reopened.close()
