"""Training pairs for the retriever: (question, positive passage) plus mined hard negatives.

Pairs are human train questions with the chunk holding their evidence, plus synthetic train
pairs (``synth_qa``). Negatives are highly ranked chunks (BM25 or the untuned embedder) that are
neither relevant nor a near copy of the positive. ``build_dataset`` lays them out as the columns
MultipleNegativesRankingLoss (``mnrl``) or CosineSimilarityLoss (``cosine``) expect.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Pair:
    question: str
    positive: str
    positive_id: str
    relevant: frozenset[str]


def training_pairs(
    train: list[dict], synthetic: list[dict], chunk_text: dict[str, str]
) -> list[Pair]:
    pairs = []
    for record in train:
        if record["answerable"] and record["relevant_chunks"]:
            first = record["relevant_chunks"][0]
            pairs.append(
                Pair(
                    record["question"],
                    chunk_text[first],
                    first,
                    frozenset(record["relevant_chunks"]),
                )
            )
    for record in synthetic:
        first = record["relevant_chunks"][0]
        pairs.append(
            Pair(
                record["question"], record["positive"], first, frozenset(record["relevant_chunks"])
            )
        )
    return pairs


def mine_negatives(
    pairs: list[Pair],
    chunks: list[dict],
    per_question: int,
    top_k: int,
    near_duplicate: float,
    method: str = "bm25",
    model=None,
) -> list[list[str]]:
    """Hard negatives per pair: highly ranked chunks that are neither relevant nor a near copy
    of the positive (overlapping chunks share sentences; calling those negatives would teach
    the model to push away the right answer)."""
    if per_question == 0:
        return [[] for _ in pairs]
    from rapidfuzz import fuzz

    texts = [c["text"] for c in chunks]
    if method == "bm25":
        from pdfqa.bm25 import KoreanBM25

        index = KoreanBM25(texts)
        rankings = [[i for i, _ in index.search(p.question, top_k)] for p in pairs]
    else:
        import numpy as np

        from pdfqa.retrieval.index import encode_passages, encode_queries

        passages = encode_passages(model, texts)
        scores = encode_queries(model, [p.question for p in pairs]) @ passages.T
        rankings = [list(np.argsort(-row)[:top_k]) for row in scores]
    negatives = []
    for pair, ranking in zip(pairs, rankings, strict=True):
        chosen = []
        for index in ranking:
            chunk = chunks[index]
            if chunk["chunk_id"] in pair.relevant:
                continue
            similarity = max(fuzz.partial_ratio(chunk["text"], pair.positive),
                             fuzz.token_set_ratio(chunk["text"], pair.positive)) / 100  # fmt: skip
            if similarity >= near_duplicate:  # a contained or reordered copy of the positive
                continue
            chosen.append(chunk["text"])
            if len(chosen) == per_question:
                break
        negatives.append(chosen)
    return negatives


def build_dataset(pairs: list[Pair], negatives: list[list[str]], loss: str):
    from datasets import Dataset

    if loss == "mnrl":
        columns = {"anchor": [p.question for p in pairs], "positive": [p.positive for p in pairs]}
        n_neg = min((len(n) for n in negatives), default=0)
        for j in range(n_neg):  # MNRL needs the same number of negatives in every row
            columns[f"negative_{j + 1}"] = [n[j] for n in negatives]
        return Dataset.from_dict(columns)
    anchors, passages, labels = [], [], []
    for pair, negs in zip(pairs, negatives, strict=True):
        anchors.append(pair.question)
        passages.append(pair.positive)
        labels.append(1.0)
        for neg in negs:
            anchors.append(pair.question)
            passages.append(neg)
            labels.append(0.0)
    return Dataset.from_dict({"anchor": anchors, "passage": passages, "score": labels})
