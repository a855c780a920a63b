"""Significance for the A/B test: is the challenger's difference on the same frozen questions
real, and how large a difference could this many questions have shown at all?

Paired by question: both bundles answer the same test questions, so the per-question
differences carry all the information. The resampling comes from scipy; Holm's step-down
correction (not in scipy) guards the family of secondary metrics.
"""

from __future__ import annotations

from collections.abc import Sequence


def paired_test(
    a: Sequence[float],
    b: Sequence[float],
    *,
    statistic: str = "mean",
    resamples: int = 9999,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Challenger ``a`` vs champion ``b`` on the same questions: the difference of ``statistic``
    (``mean`` or ``p95``), its paired-bootstrap CI and a paired sign-flip permutation p-value.

    Both come from scipy (``bootstrap(paired=True)``, ``permutation_test(permutation_type=
    "samples")``). With few questions the permutation test is exact (all 2^n sign flips); else
    it draws ``resamples`` sign flips, each tail gets p = (k + 1) / (B + 1) and the two-sided p
    is twice the smaller tail (scipy's convention), so p is never 0.
    """
    import numpy as np
    from scipy import stats

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) != len(y) or len(x) < 2:
        raise ValueError(f"need two paired samples of the same length ≥ 2 (got {len(x)}, {len(y)})")
    if statistic == "mean":

        def stat(u, v, axis=-1):
            return np.mean(u - v, axis=axis)
    elif statistic == "p95":

        def stat(u, v, axis=-1):
            return np.percentile(u, 95, axis=axis) - np.percentile(v, 95, axis=axis)
    else:
        raise ValueError(f"unknown statistic {statistic!r} (mean or p95)")
    observed = float(stat(x, y))
    if np.allclose(x, y):  # no question changed: nothing to resample
        return {"difference": observed, "ci_low": observed, "ci_high": observed, "p_value": 1.0,
                "n": len(x), "exact": True}  # fmt: skip
    test = stats.permutation_test((x, y), stat, permutation_type="samples", vectorized=True,
                                  n_resamples=resamples, rng=np.random.default_rng(seed))  # fmt: skip
    boot = stats.bootstrap((x, y), stat, paired=True, vectorized=True, n_resamples=resamples,
                           confidence_level=confidence, method="percentile",
                           rng=np.random.default_rng(seed))  # fmt: skip
    return {
        "difference": observed,
        "ci_low": float(boot.confidence_interval.low),
        "ci_high": float(boot.confidence_interval.high),
        "p_value": float(test.pvalue),
        "n": len(x),
        "exact": len(test.null_distribution) == 2 ** len(x),
    }


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (scipy has only BH/BY): sort ascending, multiply the
    i-th smallest by (m − i), keep them monotone, cap at 1."""
    order = sorted(range(len(p_values)), key=lambda i: p_values[i])
    adjusted, running = [0.0] * len(p_values), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def minimum_detectable_effect(
    differences: Sequence[float], *, alpha: float = 0.05, power: float = 0.8
) -> float:
    """The smallest true mean difference a paired two-sided test at ``alpha`` finds with
    ``power`` on this many questions (normal approximation: (z₁₋α/₂ + z_power) · σ_d / √n).
    σ_d is the observed spread of the per-question differences; when no question differs, that
    of a single changed question is used, so the answer is never a misleading 0."""
    import math

    from scipy.stats import norm

    n = len(differences)
    if n < 2:
        return math.inf
    mean = sum(differences) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in differences) / (n - 1))
    if sd == 0:
        sd = math.sqrt(1 / n)  # one question out of n moving by 1
    return (norm.ppf(1 - alpha / 2) + norm.ppf(power)) * sd / math.sqrt(n)
