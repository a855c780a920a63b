"""Paired statistics over per-question scores, shared by both evaluation stages.

Two systems answer the same frozen questions, so their difference is estimated per question and
resampled by question (a paired bootstrap): much tighter than comparing two independent means.
"""

from __future__ import annotations

import random
from collections.abc import Sequence


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Mean of (a - b) with a 95% percentile interval from resampling queries (paired)."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    rng = random.Random(seed)
    means = sorted(sum(rng.choices(diffs, k=len(diffs))) / len(diffs) for _ in range(n))
    return {
        "mean": round(sum(diffs) / len(diffs), 4),
        "ci95_low": round(means[int(0.025 * n)], 4),
        "ci95_high": round(means[min(n - 1, int(0.975 * n))], 4),
        "n_queries": len(diffs),
        "resamples": n,
    }
