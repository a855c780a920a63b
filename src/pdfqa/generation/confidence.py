"""Confidence that an answer is supported, and the threshold below which the engine abstains.

Five signals, all cheap at answer time:
- ``top_score``: cosine of the best dense hit (fine-tuned embedder) — is anything relevant indexed?
- ``margin``: best minus second-best cosine — does one passage stand out?
- ``likelihood``: mean per-token probability of the generated answer (for the extractive
  engine: how much of the question the chosen sentence covers).
- ``coverage``: IDF-weighted share of the question's content words that occur in the contexts
  the model was given. Unanswerable questions are usually on topic (a dense retriever happily
  returns the closest manual page) but ask about something the documents never mention
  ("HWP", "비용", "안드로이드"): that rare word is missing from every context.
- ``abstain_prob``: the fine-tuned generator's probability of starting the abstention answer,
  read from the first decoding step (free: generation computes it anyway).

Before calibration they are blended linearly (``generator.confidence.retrieval_weight``). The
eval_generation stage fits two logistic regressions on the val split — "the answer was correct"
(the confidence shown) and "the question is answerable" (the abstention gate) — and picks the
gate's threshold there; test is only used to report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

FEATURES = ("top_score", "margin", "likelihood", "coverage", "abstain_prob")


@dataclass(frozen=True)
class Signals:
    top_score: float
    margin: float
    likelihood: float
    coverage: float = 1.0
    abstain_prob: float = 0.0

    def vector(self) -> list[float]:
        return [getattr(self, name) for name in FEATURES]


def question_coverage(question: str, contexts: Sequence[str], idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's content words (Kiwi) found in ``contexts``.

    Weighting by IDF makes the rare, specific word of a question count most: a question about
    "EPUB" whose contexts never say "EPUB" scores low however many common words match."""
    from pdfqa.korean import INTERROGATIVES, content_tokens, search_tokens, squash

    words = [w for w in dict.fromkeys(content_tokens(question)) if w not in INTERROGATIVES]
    if not words:
        return 0.0
    joined = "\n".join(contexts)
    tokens, squashed = set(search_tokens(joined)), squash(joined).lower()

    def present(word: str) -> bool:  # PDF text loses word spaces, which can change Kiwi's split
        return word in tokens or (len(word) > 1 and word in squashed)

    weights = [idf(w) for w in words]
    total = sum(weights)
    found = sum(x for w, x in zip(words, weights, strict=True) if present(w))
    return found / total if total else 0.0


def _logistic(weights: Sequence[float], means, scales, s: Signals) -> float:
    z = weights[0] + sum(
        w * (x - m) / (sd or 1.0)
        for w, x, m, sd in zip(weights[1:], s.vector(), means, scales, strict=True)
    )
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, z))))


@dataclass
class Calibration:
    """Two logistic models fitted on val by eval_generation:

    - ``score``: the confidence shown with an answer, P(the answer is correct);
    - ``answerable``: P(the documents answer the question) — the abstention gate. Below
      ``threshold`` the engine says it cannot find the answer.

    Kept apart because they fail differently: a 270M generator is wrong on most answerable
    questions, so a single P(correct) gate learns "abstain when unsure of the wording" and throws
    away right answers, while answerability (is the question's specific word in any context?
    does the fine-tuned model want to abstain?) is learnt from far more balanced data.
    Empty weights = the uncalibrated linear blend (before eval_generation has run)."""

    threshold: float
    retrieval_weight: float = 0.5
    weights: list[float] = field(default_factory=list)  # bias + one per feature
    means: list[float] = field(default_factory=list)
    scales: list[float] = field(default_factory=list)
    gate_weights: list[float] = field(default_factory=list)
    gate_means: list[float] = field(default_factory=list)
    gate_scales: list[float] = field(default_factory=list)

    def score(self, s: Signals) -> float:
        if not self.weights:
            blend = self.retrieval_weight * s.top_score + (1 - self.retrieval_weight) * s.likelihood
            return min(1.0, max(0.0, blend))
        return _logistic(self.weights, self.means, self.scales, s)

    def answerable(self, s: Signals) -> float:
        if not self.gate_weights:
            return self.score(s)
        return _logistic(self.gate_weights, self.gate_means, self.gate_scales, s)

    def matches_features(self) -> bool:
        """False for a calibration fitted on another feature set (an older calibration.json)."""
        return all(not w or len(w) == len(FEATURES) + 1 for w in (self.weights, self.gate_weights))

    def to_dict(self) -> dict:
        return {k: (round(v, 6) if isinstance(v, float) else [round(x, 6) for x in v])
                for k, v in asdict(self).items()}  # fmt: skip


def fit_logistic(
    signals: Sequence[Signals], labels: Sequence[int], l2: float = 1.0, steps: int = 500
) -> tuple[list[float], list[float], list[float]]:
    """Plain gradient descent on standardised features (five features, ~60 points:
    no need for a solver dependency). Returns (weights, means, scales)."""
    import numpy as np

    x = np.array([s.vector() for s in signals], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    scales[scales < 1e-4] = 1.0  # a (nearly) constant signal: leave it unscaled, not ÷ ~0
    x = np.hstack([np.ones((len(x), 1)), (x - means) / scales])
    w = np.zeros(x.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(x @ w)))
        grad = x.T @ (p - y) / len(y) + l2 * np.r_[0.0, w[1:]] / len(y)
        w -= 0.5 * grad
    return w.tolist(), means.tolist(), scales.tolist()


def choose_threshold(
    scores: Sequence[float],
    answerable: Sequence[bool],
    correct: Sequence[bool],
    model_abstained: Sequence[bool],
    max_answerable_drop: float,
) -> float:
    """Highest abstention recall on unanswerable questions whose cost in answerable accuracy
    stays within ``max_answerable_drop``; ties go to the lower threshold."""

    def outcome(threshold: float) -> tuple[float, float]:
        abstain = [a or s < threshold for s, a in zip(scores, model_abstained, strict=True)]
        n_ans = sum(answerable) or 1
        n_unans = (len(answerable) - sum(answerable)) or 1
        accuracy = (
            sum(c and not ab for c, ab, an in zip(correct, abstain, answerable, strict=True) if an)
            / n_ans
        )
        recall = sum(ab for ab, an in zip(abstain, answerable, strict=True) if not an) / n_unans
        return accuracy, recall

    baseline, _ = outcome(0.0)
    best, best_recall = 0.0, outcome(0.0)[1]
    for threshold in sorted(set(scores)):
        accuracy, recall = outcome(threshold)
        if baseline - accuracy <= max_answerable_drop + 1e-9 and recall > best_recall:
            best, best_recall = threshold, recall
    return float(best)


def reliability_table(
    scores: Sequence[float], correct: Sequence[bool], bins: int = 5
) -> tuple[list[dict], float]:
    """Per confidence bin: count, mean confidence, accuracy; and the expected calibration error."""
    rows, ece = [], 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        members = [(s, c) for s, c in zip(scores, correct, strict=True)
                   if low <= s < high or (b == bins - 1 and s == 1.0)]  # fmt: skip
        if not members:
            rows.append(
                {"bin": f"{low:.1f}-{high:.1f}", "n": 0, "confidence": None, "accuracy": None}
            )
            continue
        confidence = sum(s for s, _ in members) / len(members)
        accuracy = sum(c for _, c in members) / len(members)
        ece += len(members) / len(scores) * abs(confidence - accuracy)
        rows.append({"bin": f"{low:.1f}-{high:.1f}", "n": len(members),
                     "confidence": round(confidence, 4), "accuracy": round(accuracy, 4)})  # fmt: skip
    return rows, round(ece, 4)
