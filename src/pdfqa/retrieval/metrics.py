"""Retrieval metrics as the guide defines them (precision/recall/F1/hit@k), plus MRR and nDCG.

Relevance is binary at chunk level: a retrieved chunk is relevant if it is one of the record's
``relevant_chunks`` (the chunks containing its human evidence).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def query_metrics(
    retrieved: Sequence[str], relevant: set[str], ks: Sequence[int]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for k in ks:
        top = retrieved[:k]
        found = sum(1 for c in top if c in relevant)
        precision = found / k
        recall = found / len(relevant)
        out[f"precision@{k}"] = precision
        out[f"recall@{k}"] = recall
        out[f"f1@{k}"] = 0.0 if found == 0 else 2 * precision * recall / (precision + recall)
        out[f"hit@{k}"] = float(found > 0)
    first = next((rank for rank, c in enumerate(retrieved[:10], 1) if c in relevant), None)
    out["mrr@10"] = 1.0 / first if first else 0.0
    dcg = sum(
        1.0 / math.log2(rank + 1) for rank, c in enumerate(retrieved[:10], 1) if c in relevant
    )
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(relevant), 10) + 1))
    out["ndcg@10"] = dcg / ideal if ideal else 0.0
    return out


def mean_metrics(per_query: list[dict[str, float]]) -> dict[str, float]:
    keys = per_query[0].keys() if per_query else []
    return {k: round(sum(q[k] for q in per_query) / len(per_query), 4) for k in keys}
