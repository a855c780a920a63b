"""Fine-tune the retriever (sentence-transformers, SentenceTransformerTrainer).

Training pairs are (question, passage): human train questions with the chunks holding their
evidence, plus synthetic train pairs. Two losses, as params choose:

- ``mnrl``: MultipleNegativesRankingLoss — every other passage in the batch is a negative, and
  optionally mined hard negatives (top BM25 or base-model chunks that are not relevant and not
  near-duplicates of the positive) make the task harder.
- ``cosine``: the guide's CosineSimilarityLoss — label 1.0 for the positive, 0.0 for
  ``negatives_per_question`` mined negatives.

Validation runs InformationRetrievalEvaluator on the val split every ``eval_steps`` and the best
checkpoint (nDCG@10) is kept.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pdfqa.train_embedder")


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

        from pdfqa.retrieval import encode_passages, encode_queries

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


def data_hash(*files: Path) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


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


def ir_evaluator(records: list[dict], chunks: list[dict], name: str, prompts: dict):
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    queries = {r["id"]: r["question"] for r in records if r["answerable"] and r["relevant_chunks"]}
    relevant = {r["id"]: set(r["relevant_chunks"]) for r in records if r["id"] in queries}
    return InformationRetrievalEvaluator(
        queries=queries,
        corpus={c["chunk_id"]: c["text"] for c in chunks},
        relevant_docs=relevant,
        name=name,
        query_prompt=prompts.get("query"),
        corpus_prompt=prompts.get("passage"),
        write_csv=False,
        batch_size=32,
    )


MODEL_CARD = """---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
base_model: {base_model}
tags: [pdfqa, korean, retrieval]
---
# pdfqa retriever (fine-tuned)

Fine-tuned by the pdfqa DVC stage `train_embedder`.

- **Base model**: `{base_model}` ({base_resolved})
- **Training data** (sha256 of the files, first 16 hex): `{data_hash}` — {n_human} human train
  pairs + {n_synthetic} synthetic pairs ({generators}); loss `{loss}`, {n_negatives} mined hard
  negative(s) per question ({mining}).
- **Params**: `{params}`
- **Validation** (val split, {n_val} questions, InformationRetrievalEvaluator):

| metric | base | fine-tuned |
|---|---|---|
{metric_rows}

Training took {seconds:.0f} s on {device}. Use `prompt_name="query"` for questions and
`prompt_name="passage"` for chunks. The base model's licence applies.
"""


def write_model_card(out_dir: Path, **fields) -> None:
    rows = "\n".join(
        f"| {k} | {fields['base_metrics'].get(k, float('nan')):.4f} | {v:.4f} |"
        for k, v in sorted(fields["tuned_metrics"].items())
    )
    params = json.dumps(fields.pop("params"), sort_keys=True)
    (out_dir / "README.md").write_text(
        MODEL_CARD.format(metric_rows=rows, params=params, **fields), encoding="utf-8"
    )


def freeze_word_embeddings(model) -> int:
    """Freeze the token embedding matrix (96 M of e5-small's 118 M parameters): with a few
    hundred pairs it only overfits, and its dense Adam updates dominate CPU step time."""
    frozen = 0
    for module in model.modules():
        embeddings = getattr(module, "word_embeddings", None)
        if embeddings is not None and hasattr(embeddings, "weight"):
            embeddings.weight.requires_grad_(False)
            frozen += embeddings.weight.numel()
    return frozen
