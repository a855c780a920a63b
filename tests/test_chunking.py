from itertools import pairwise

import pytest

from pdfqa.config import ChunkConfig
from pdfqa.corpus.chunking import chunk_pages
from pdfqa.korean import sentence_splitter, token_counter

SENTENCES = [f"이것은 {i}번째 문장이며 한국어 청크 분할을 시험한다." for i in range(1, 41)]


def _pages(doc_id="d1", source="a.pdf", per_page=8, sentences=SENTENCES):
    pages = []
    for start in range(0, len(sentences), per_page):
        pages.append(
            {
                "doc_id": doc_id,
                "source": source,
                "page": start // per_page + 1,
                "text": " ".join(sentences[start : start + per_page]),
            }
        )
    return pages


@pytest.fixture(scope="module")
def kiwi_chunks():
    cfg = ChunkConfig(max_tokens=60, overlap_tokens=20)  # one ~16-token sentence of overlap
    return cfg, chunk_pages(_pages(), cfg)


def test_chunks_respect_the_token_bound(kiwi_chunks):
    cfg, chunks = kiwi_chunks
    count = token_counter("kiwi")
    assert len(chunks) > 3
    for chunk in chunks:
        assert chunk.n_tokens == count([chunk.text])[0]
        assert cfg.min_tokens <= chunk.n_tokens <= cfg.max_tokens


def test_chunks_never_cut_a_sentence(kiwi_chunks):
    _, chunks = kiwi_chunks
    for chunk in chunks:
        for sentence in sentence_splitter("regex")([chunk.text])[0]:
            assert sentence in SENTENCES


def test_every_sentence_is_covered_and_overlap_repeats_the_tail(kiwi_chunks):
    _, chunks = kiwi_chunks
    covered = [s for c in chunks for s in sentence_splitter("regex")([c.text])[0]]
    assert set(covered) == set(SENTENCES)
    for prev, nxt in pairwise(chunks):
        first = sentence_splitter("regex")([nxt.text])[0][0]
        assert prev.text.endswith(first)  # the next chunk starts with the previous one's tail


def test_page_provenance(kiwi_chunks):
    _, chunks = kiwi_chunks
    for chunk in chunks:
        pages = {1 + SENTENCES.index(s) // 8 for s in sentence_splitter("regex")([chunk.text])[0]}
        assert (chunk.page_start, chunk.page_end) == (min(pages), max(pages))
    assert any(c.page_start < c.page_end for c in chunks)


def test_a_sentence_longer_than_the_bound_is_split():
    long_sentence = " ".join(f"단어{i}" for i in range(200)) + "."
    cfg = ChunkConfig(max_tokens=50, overlap_tokens=10, tokenizer="whitespace", splitter="regex")
    chunks = chunk_pages(_pages(sentences=[long_sentence]), cfg)
    assert len(chunks) >= 4
    assert all(c.n_tokens <= 50 for c in chunks)
    assert " ".join(c.text for c in chunks).split() == long_sentence.split()


def test_sentence_cut_by_a_page_break_is_rejoined():
    pages = [
        {"doc_id": "d", "source": "a.pdf", "page": 1, "text": "첫 문장이다. 둘째 문장은 페이지를"},
        {"doc_id": "d", "source": "a.pdf", "page": 2, "text": "넘어서 끝난다. 셋째 문장이다."},
    ]
    cfg = ChunkConfig(max_tokens=12, overlap_tokens=0, min_tokens=1)
    chunks = chunk_pages(pages, cfg)
    spanning = [c for c in chunks if "페이지를 넘어서 끝난다." in c.text]
    assert spanning and (spanning[0].page_start, spanning[0].page_end) == (1, 2)


def test_ids_are_stable_when_unrelated_pdfs_are_added():
    cfg = ChunkConfig(max_tokens=60, overlap_tokens=15, splitter="regex")
    alone = chunk_pages(_pages(), cfg)
    other = _pages(doc_id="d0", source="0-first.pdf", sentences=SENTENCES[::-1])
    together = chunk_pages(other + _pages(), cfg)
    ids = {c.chunk_id for c in together}
    assert {c.chunk_id for c in alone} <= ids
    assert len(ids) == len(together)
    assert all(c.chunk_id.startswith("d1-") for c in alone)


def test_output_is_deterministic():
    cfg = ChunkConfig(max_tokens=60, overlap_tokens=15)
    assert chunk_pages(_pages(), cfg) == chunk_pages(list(reversed(_pages())), cfg)


def test_overlap_must_be_below_max():
    with pytest.raises(ValueError, match="overlap_tokens"):
        ChunkConfig(max_tokens=10, overlap_tokens=10)


def test_chunks_on_the_real_sample(tmp_path):
    """Chunk one real PDF end to end: ingest output in, bounded chunks with pages out."""
    from conftest import SAMPLE_PDFS

    from pdfqa.corpus.pdf import read_pdf

    result = read_pdf("cjk-ko-doc.pdf", (SAMPLE_PDFS / "cjk-ko-doc.pdf").read_bytes())
    pages = [
        {"doc_id": result.doc_id, "source": result.source, "page": p.page, "text": p.text}
        for p in result.pages
    ]
    cfg = ChunkConfig(max_tokens=120, overlap_tokens=20)
    chunks = chunk_pages(pages, cfg)
    assert len(chunks) >= 5
    assert all(c.n_tokens <= 120 for c in chunks)
    assert chunks[0].page_start == 1 and chunks[-1].page_end == len(pages)
    assert any("자동 조사" in c.text for c in chunks)
