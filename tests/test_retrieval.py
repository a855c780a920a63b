from __future__ import annotations

import numpy as np
import pytest

from pdfqa.retrieval.index import Retriever, build_faiss, rrf, weighted_fusion


def test_rrf_rewards_agreement_and_supports_weights():
    fused = rrf([[1, 2, 3], [3, 1, 4]], k=60)
    assert [d for d, _ in fused][:2] == [1, 3]
    weighted = rrf([[1, 2], [2, 1]], k=1, weights=[0.9, 0.1])
    assert weighted[0][0] == 1


def test_weighted_fusion_normalises_score_scales():
    dense = [(1, 0.91), (2, 0.90), (3, 0.80)]
    bm25 = [(3, 12.0), (2, 11.0), (4, 1.0)]
    fused = weighted_fusion([dense, bm25], [0.5, 0.5])
    assert fused[0][0] == 2  # second in both lists beats first-in-one
    assert {d for d, _ in fused} == {1, 2, 3, 4}


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_faiss_kinds_find_the_nearest_vector(kind):
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index = build_faiss(vectors, kind, nlist=4, hnsw_m=8)
    _, ids = index.search(vectors[[7, 42]], 1)
    assert ids[:, 0].tolist() == [7, 42]


@pytest.fixture(scope="module")
def e5():
    from models_cache import builtin_dir
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(builtin_dir("multilingual-e5-small")), device="cpu")


CHUNKS = [
    {"chunk_id": f"c{i}", "source": "a.pdf", "page_start": i + 1, "page_end": i + 1, "text": t}
    for i, t in enumerate([
        "ko.TeX은 한국텍학회가 개발을 후원하고 배포하는 한국어 조판 패키지 모음이다.",
        "자동 조사 기능은 nojosa 옵션을 주면 꺼진다.",
        "글꼴은 \\setkomainfont 명령에 괄호로 이름을 적어 지정한다.",
        "pdfLaTeX을 쓰려면 nanumtype1 글꼴 패키지가 필요하다.",
    ])
]  # fmt: skip
SETTINGS = {"dense": "flat", "ivf_nlist": 4, "hnsw_m": 8, "bm25_k1": 1.5, "bm25_b": 0.75,
            "fusion": "weighted", "rrf_k": 60, "dense_weight": 0.5, "candidates": 10}  # fmt: skip


@pytest.mark.slow
def test_retriever_round_trips_through_its_directory(e5, tmp_path):
    retriever = Retriever.build(CHUNKS, e5, "local-e5", SETTINGS, progress=False)
    retriever.save(tmp_path / "index")
    loaded = Retriever.from_dir(tmp_path / "index", model=e5)
    for mode in ("dense", "bm25", "hybrid"):
        hits = loaded.search("자동 조사를 끄는 옵션은?", k=2, mode=mode)
        assert hits[0].chunk_id == "c1", mode
        assert hits[0].source == "a.pdf" and hits[0].pages() == "2"
    assert loaded.settings["model"] == "local-e5"
    assert loaded.bm25.idf("글꼴") == retriever.bm25.idf("글꼴")  # document frequencies persist


def test_bm25_idf_ranks_unseen_above_rare_above_common():
    from pdfqa.bm25 import KoreanBM25

    bm25 = KoreanBM25(["kotex의 nojosa 옵션", "kotex와 xetex", "kotex와 luatex", "pdflatex"])
    common, rare, unseen = bm25.idf("kotex"), bm25.idf("nojosa"), bm25.idf("안드로이드")
    assert 0 < common < rare < unseen


@pytest.mark.slow
def test_reranker_hook_reorders_hybrid_results(e5):
    retriever = Retriever.build(CHUNKS, e5, "local-e5", SETTINGS, progress=False)
    retriever.reranker = lambda query, texts: [1.0 if "nanumtype1" in t else 0.0 for t in texts]
    assert retriever.search("자동 조사를 끄는 옵션은?", k=1)[0].chunk_id == "c3"


@pytest.mark.slow
def test_repeated_searches_and_texts_are_answered_from_memory(e5):
    retriever = Retriever.build(CHUNKS, e5, "local-e5", SETTINGS, progress=False)
    first = retriever.search("자동 조사를 끄는 옵션은?", k=3)
    calls = []
    encode = e5.encode
    e5.encode = lambda texts, **kw: calls.append(list(texts)) or encode(texts, **kw)
    try:
        assert retriever.search("자동 조사를 끄는 옵션은?", k=3) == first
        assert calls == []  # neither encoded nor searched again
        texts = ["nojosa 옵션", "글꼴 패키지", "nojosa 옵션"]
        vectors = retriever.vectors(texts)
        assert calls == [["nojosa 옵션", "글꼴 패키지"]] and vectors.shape[0] == 3
        assert (vectors[0] == vectors[2]).all()
        assert (retriever.vectors(["글꼴 패키지"]) == vectors[1]).all() and len(calls) == 1
    finally:
        e5.encode = encode
    retriever.reranker = lambda query, texts: [1.0 if "nanumtype1" in t else 0.0 for t in texts]
    assert retriever.search("자동 조사를 끄는 옵션은?", k=1)[0].chunk_id == "c3"  # memory cleared


def test_missing_index_is_a_clear_error(tmp_path):
    from pdfqa.errors import PdfqaError

    with pytest.raises(PdfqaError, match="dvc repro index"):
        Retriever.from_dir(tmp_path)


def test_saved_bm25_index_is_byte_identical_across_processes(tmp_path):
    """Python salts set order per process; a vocabulary numbered in set order made every
    `dvc repro` write a new models/index and re-run everything downstream of it."""
    import hashlib
    import os
    import subprocess
    import sys

    code = (
        "import sys, pathlib; from pdfqa.bm25 import KoreanBM25; "
        "KoreanBM25(['한국어 문서를 검색합니다', '조사와 어미를 분리합니다', 'BM25 색인 만들기', "
        "'문서 검색 색인']).save(pathlib.Path(sys.argv[1]))"
    )
    digests = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        out.mkdir()
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-c", code, str(out)], env=env, check=True, timeout=120)
        digests.append({f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in out.iterdir()})
    assert digests[0] == digests[1] and "vocab.index.json" in digests[0]
