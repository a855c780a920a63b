"""A learned re-ordering of hybrid search's first few results.

The weighted fusion adds min-max normalised dense and BM25 scores with one weight. It finds the
answer passage among the top 5 for almost every question but often not at rank 1: which signal
to trust differs per question (a rare term BM25 matches exactly, a paraphrase only the embedder
sees). A logistic model over six features of each candidate learns that trade-off from labelled
questions:

- ``dense``: the fine-tuned embedder's cosine; ``dense_norm`` / ``bm25_norm``: the two scores
  min-max normalised over the candidates (what the weighted fusion adds);
- ``dense_rrf`` / ``bm25_rrf``: 60 / (60 + rank) in each ranking (0 when absent);
- ``coverage``: IDF-weighted share of the question's content words in the passage.

It only re-orders the first ``top`` results: measured on leave-one-document-out folds
(``benchmarks/coldstart_fusion.py``), re-scoring all candidates raised MRR@10 but lost answers
from the top 5, re-ordering the top 5 raised MRR@10 0.813 → 0.858 and kept hit@5.

The ``index`` stage fits it on the **val** split (questions the fine-tuned embedder never trained
on, so its cosine is not inflated), its L2 strength chosen by 5-fold cross-validation there, and
stores it in the index manifest (``fusion_model``); ``Retriever`` applies it when present.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import numpy as np

log = logging.getLogger("pdfqa.retrieval")
FEATURES = ("dense", "dense_norm", "bm25_norm", "dense_rrf", "bm25_rrf", "coverage")
C_GRID = (0.01, 0.1, 1.0, 10.0)  # inverse L2 strengths the cross-validation chooses from
MIN_QUESTIONS = 10  # fewer labelled val questions: no model, the weighted fusion alone
RRF_K = 60


def _normalised(result: Sequence[tuple[int, float]]) -> dict[int, float]:
    values = [s for _, s in result]
    low, high = (min(values), max(values)) if values else (0.0, 0.0)
    return {d: (1.0 if high == low else (s - low) / (high - low)) for d, s in result}


def candidate_features(
    candidates: Sequence[int],
    dense: Sequence[tuple[int, float]],
    sparse: Sequence[tuple[int, float]],
    coverage: Callable[[int], float],
) -> np.ndarray:
    """One row of ``FEATURES`` per candidate chunk index, from the dense and BM25 rankings the
    hybrid search fused; a chunk missing from one ranking gets its floor there (the lowest
    cosine, 0 normalised, no reciprocal rank)."""
    dn, sn = _normalised(dense), _normalised(sparse)
    cosine = dict(dense)
    floor = min(cosine.values()) if cosine else 0.0
    drank = {d: r for r, (d, _) in enumerate(dense, 1)}
    srank = {d: r for r, (d, _) in enumerate(sparse, 1)}
    rows = [
        [cosine.get(d, floor), dn.get(d, 0.0), sn.get(d, 0.0),
         RRF_K / (RRF_K + drank[d]) if d in drank else 0.0,
         RRF_K / (RRF_K + srank[d]) if d in srank else 0.0,
         coverage(d)]
        for d in candidates
    ]  # fmt: skip
    return np.array(rows, dtype=np.float64).reshape(len(candidates), len(FEATURES))


def scores(model: dict, rows: np.ndarray) -> np.ndarray:
    """The model's log-odds that each candidate holds the answer."""
    z = (rows - np.asarray(model["mean"])) / np.asarray(model["scale"])
    return z @ np.asarray(model["coef"]) + float(model["intercept"])


def reorder(
    model: dict, fused: list[tuple[int, float]], rows: np.ndarray
) -> list[tuple[int, float]]:
    """``fused`` with its first ``model["top"]`` results sorted by the model (ties: chunk order);
    each result keeps its fused score."""
    top = fused[: int(model["top"])]
    learned = scores(model, rows)
    order = sorted(range(len(top)), key=lambda i: (-learned[i], top[i][0]))
    return [top[i] for i in order] + fused[len(top) :]


def fit(retriever, records: Sequence[dict], top: int) -> dict | None:
    """A model for ``retriever`` from labelled questions (answerable, with ``relevant_chunks``):
    every hybrid candidate of each question is an example, positive when it is relevant. None
    when there are fewer than ``MIN_QUESTIONS`` such questions or fewer than 5 positive (or
    negative) candidates: hybrid search then stays the weighted fusion, the manifest's
    ``fusion_model`` is null and the log says which of the two it was."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    index_of = {c["chunk_id"]: i for i, c in enumerate(retriever.chunks)}
    blocks, labels, questions = [], [], 0
    for record in records:
        relevant = {index_of[c] for c in record.get("relevant_chunks") or [] if c in index_of}
        if not (record.get("answerable", True) and relevant):
            continue
        candidates, rows = retriever.fusion_candidates(record["question"])
        blocks.append(rows)
        labels.extend(d in relevant for d in candidates)
        questions += 1
    y = np.array(labels, dtype=bool)
    if questions < MIN_QUESTIONS or y.sum() < 5 or (~y).sum() < 5:
        why = (f"{questions} labelled val questions (needs {MIN_QUESTIONS})"
               if questions < MIN_QUESTIONS else
               f"{int(y.sum())} relevant and {int((~y).sum())} other candidates (needs 5 of each)")  # fmt: skip
        log.warning("learned fusion not fitted: %s; hybrid search keeps the weighted fusion", why)
        return None
    x = np.vstack(blocks)
    scaler = StandardScaler().fit(x)
    clf = LogisticRegressionCV(Cs=list(C_GRID), l1_ratios=(0.0,), cv=5, max_iter=2000,
                               scoring="neg_log_loss", use_legacy_attributes=False)  # fmt: skip
    clf.fit(scaler.transform(x), y)
    model = {
        "features": list(FEATURES), "top": int(top),
        "mean": [round(float(v), 8) for v in scaler.mean_],
        "scale": [round(float(v), 8) for v in scaler.scale_],
        "coef": [round(float(v), 8) for v in clf.coef_.ravel()],
        "intercept": round(float(np.ravel(clf.intercept_)[0]), 8),
        "C": float(clf.C_ if np.isscalar(clf.C_) else np.ravel(clf.C_)[0]),
        "n_questions": questions, "n_candidates": len(y),
    }  # fmt: skip
    log.info("learned fusion fitted on %d val questions (%d candidates, C=%g): re-orders the top %d",
             questions, len(y), model["C"], top)  # fmt: skip
    return model
