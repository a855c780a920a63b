"""Split page text into retrieval chunks that respect Korean sentences and keep page provenance.

Chunks are packed from whole sentences up to ``max_tokens``; the next chunk repeats trailing
sentences worth at most ``overlap_tokens`` so a fact straddling a boundary is whole in one of
them. A sentence is only cut when it alone exceeds the bound. Each chunk remembers the pages
it came from so answers can cite them, and its id depends only on its own document, position
and text — adding another PDF never renames existing chunks.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import groupby, pairwise

from pdfqa.config import ChunkConfig
from pdfqa.corpus.cleanup import LIST_START_RE
from pdfqa.korean import SentenceSplitter, TokenCounter, sentence_splitter, token_counter

_ENDS_SENTENCE = re.compile(r"[.!?。？！:;)\]\"”’…]$")


@dataclass(frozen=True)
class Unit:
    """A sentence (or a piece of an over-long one) with the pages it spans."""

    text: str
    page_start: int
    page_end: int
    paragraph: int
    n_tokens: int


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    source: str
    page_start: int
    page_end: int
    text: str
    n_tokens: int

    def to_record(self) -> dict:
        return dict(self.__dict__)


def chunk_id(doc_id: str, position: int, text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]
    return f"{doc_id}-{position:04d}-{digest}"


def _paragraphs(pages: list[dict]) -> list[tuple[str, int, int]]:
    """(text, page_start, page_end); a paragraph cut by a page break is rejoined across it."""
    out: list[tuple[str, int, int]] = []
    for page in pages:
        paras = [p for p in page["text"].split("\n") if p.strip()]
        for i, para in enumerate(paras):
            continues = (
                i == 0
                and out
                and out[-1][2] == page["page"] - 1
                and not _ENDS_SENTENCE.search(out[-1][0])
                and not LIST_START_RE.match(para)
            )
            if continues:
                text, start, _ = out[-1]
                out[-1] = (f"{text} {para}", start, page["page"])
            else:
                out.append((para, page["page"], page["page"]))
    return out


def _split_long(text: str, n_tokens: int, max_tokens: int) -> list[str]:
    """Cut a sentence longer than max_tokens at spaces (or characters, for unspaced text)."""
    pieces = max(2, -(-n_tokens // max_tokens) + 1)  # one spare piece: counts are estimates
    words = text.split(" ")
    if len(words) >= pieces:
        size = -(-len(words) // pieces)
        return [" ".join(words[i : i + size]) for i in range(0, len(words), size)]
    size = -(-len(text) // pieces)
    return [text[i : i + size] for i in range(0, len(text), size)]


def document_units(
    pages: list[dict], split: SentenceSplitter, count: TokenCounter, max_tokens: int
) -> list[Unit]:
    paragraphs = _paragraphs(pages)
    sentences_per_paragraph = split([p[0] for p in paragraphs])
    flat = [
        (sentence, start, end, index)
        for index, ((_, start, end), sentences) in enumerate(
            zip(paragraphs, sentences_per_paragraph, strict=True)
        )
        for sentence in sentences
    ]
    counts = count([s[0] for s in flat])
    units: list[Unit] = []
    for (text, start, end, para), n in zip(flat, counts, strict=True):
        pending = [(text, n)]
        while pending:
            piece, n_piece = pending.pop(0)
            if n_piece <= max_tokens or len(piece) < 2:
                units.append(Unit(piece, start, end, para, n_piece))
            else:
                parts = _split_long(piece, n_piece, max_tokens)
                pending = list(zip(parts, count(parts), strict=True)) + pending
    return units


def _join(units: list[Unit]) -> str:
    text = units[0].text
    for prev, unit in pairwise(units):
        text += ("\n" if unit.paragraph != prev.paragraph else " ") + unit.text
    return text


def pack(
    units: list[Unit], max_tokens: int, overlap_tokens: int, min_tokens: int
) -> list[list[Unit]]:
    """Greedy packing of whole units, carrying trailing units as overlap."""
    groups: list[list[Unit]] = []
    current: list[Unit] = []
    size = 0
    for unit in units:
        if current and size + unit.n_tokens > max_tokens:
            groups.append(current)
            carry: list[Unit] = []
            carried = 0
            for prev in reversed(current[1:]):  # never carry a whole chunk
                if carried + prev.n_tokens > overlap_tokens:
                    break
                carry.insert(0, prev)
                carried += prev.n_tokens
            if carried + unit.n_tokens > max_tokens:
                carry, carried = [], 0
            current, size = carry, carried
        current.append(unit)
        size += unit.n_tokens
    if current:
        tail_new = [u for u in current if not groups or u not in groups[-1]]
        tail_size = sum(u.n_tokens for u in current)
        merged_size = (
            sum(u.n_tokens for u in groups[-1]) + sum(u.n_tokens for u in tail_new) if groups else 0
        )
        if groups and tail_size < min_tokens and merged_size <= max_tokens:
            groups[-1] = groups[-1] + tail_new
        elif tail_new:
            groups.append(current)
    return groups


def _pack_within_bound(
    units: list[Unit], cfg: ChunkConfig, count: TokenCounter
) -> tuple[list[list[Unit]], list[str], list[int]]:
    """Packing adds per-sentence counts, but a tokenizer may count joined text a little
    differently; re-count and tighten the bound until every chunk truly fits."""
    bound = cfg.max_tokens
    while True:
        groups = pack(units, bound, min(cfg.overlap_tokens, bound - 1), cfg.min_tokens)
        texts = [_join(g) for g in groups]
        counts = count(texts)
        excess = max((n - cfg.max_tokens for n in counts), default=0)
        if excess <= 0 or bound <= cfg.min_tokens:
            return groups, texts, counts
        bound = max(cfg.min_tokens, bound - excess)


def chunk_pages(
    pages: Iterable[dict],
    cfg: ChunkConfig,
    split: SentenceSplitter | None = None,
    count: TokenCounter | None = None,
) -> list[Chunk]:
    """pages.jsonl records (any document order) → chunks, documents in source order."""
    split = split or sentence_splitter(cfg.splitter)
    if count is None:
        if cfg.tokenizer == "embedder":
            raise ValueError(
                "chunk.tokenizer 'embedder' needs a counter (pdfqa.models.token_counter_for)"
            )
        count = token_counter(cfg.tokenizer)
    ordered = sorted(pages, key=lambda p: (p["source"], p["page"]))
    chunks: list[Chunk] = []
    for (doc_id, source), doc_pages in groupby(ordered, key=lambda p: (p["doc_id"], p["source"])):
        units = document_units(list(doc_pages), split, count, cfg.max_tokens)
        groups, texts, counts = _pack_within_bound(units, cfg, count)
        for position, (group, text, n) in enumerate(zip(groups, texts, counts, strict=True)):
            chunks.append(
                Chunk(
                    chunk_id=chunk_id(doc_id, position, text),
                    doc_id=doc_id,
                    source=source,
                    page_start=min(u.page_start for u in group),
                    page_end=max(u.page_end for u in group),
                    text=text,
                    n_tokens=n,
                )
            )
    return chunks
