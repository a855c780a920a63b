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
eval_generation stage fits two logistic regressions: "the answer was correct" (the confidence
shown, per system, on val) and "the question is answerable" (the abstention gate, shared by every
system, on the retrieval-side signals of train + val with a cross-validated L2 strength and a
bootstrap-bagged threshold: ``fit_gate``); test is only used to report.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field

FEATURES = ("top_score", "margin", "likelihood", "coverage", "abstain_prob", "corpus_coverage")
DRAFT_FEATURES = ("likelihood", "abstain_prob")  # known only once the model has written
LEGACY_FEATURES = FEATURES[:5]  # what a calibration.json without "features" was fitted on


@dataclass(frozen=True)
class Signals:
    top_score: float
    margin: float
    likelihood: float
    coverage: float = 1.0
    abstain_prob: float = 0.0
    corpus_coverage: float = 1.0

    def vector(self, features: Sequence[str] = FEATURES) -> list[float]:
        return [getattr(self, name) for name in features]


def corpus_coverage(
    question: str, has_term: Callable[[str], bool], idf: Callable[[str], float]
) -> float:
    """IDF-weighted share of the question's content words that the corpus uses at all.

    The cheapest sign of a question the documents cannot answer: its specific word ("HWP",
    "안드로이드") occurs nowhere. Context coverage alone misses answerable questions whose word
    sits in a passage ranked below the ones the answer is built from."""
    from pdfqa.korean import question_words

    words = question_words(question)
    weights = [idf(w) for w in words]
    total = sum(weights)
    return (
        sum(x for w, x in zip(words, weights, strict=True) if has_term(w)) / total if total else 0.0
    )


def question_coverage(question: str, contexts: Sequence[str], idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the question's content words (Kiwi) found in ``contexts``.

    Weighting by IDF makes the rare, specific word of a question count most: a question about
    "EPUB" whose contexts never say "EPUB" scores low however many common words match."""
    from pdfqa.korean import covered_share, question_words, text_terms

    words = question_words(question)
    if not words:
        return 0.0
    return covered_share(words, text_terms("\n".join(contexts)), idf)


def _logistic(weights: Sequence[float], means, scales, s: Signals, features=FEATURES) -> float:
    z = weights[0] + sum(
        w * (x - m) / (sd or 1.0)
        for w, x, m, sd in zip(weights[1:], s.vector(features), means, scales, strict=True)
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
    threshold_ci: list[float] = field(default_factory=list)  # 95% bootstrap CI (fit_gate)
    features: list[str] = field(default_factory=lambda: list(FEATURES))  # what the weights refer to

    def score(self, s: Signals) -> float:
        if not self.weights:
            blend = self.retrieval_weight * s.top_score + (1 - self.retrieval_weight) * s.likelihood
            return min(1.0, max(0.0, blend))
        return _logistic(self.weights, self.means, self.scales, s, self.features)

    def answerable(self, s: Signals) -> float:
        if not self.gate_weights:
            return self.score(s)
        return _logistic(self.gate_weights, self.gate_means, self.gate_scales, s, self.features)

    def gate_reads_draft(self) -> bool:
        """True when the gate looks at what the model wrote (no gate: the confidence stands in
        for it; or a gate fitted with a draft signal): then every question is generated first."""
        if not self.gate_weights:
            return True
        weights = dict(zip(self.features, self.gate_weights[1:], strict=False))
        return any(weights.get(name, 0.0) != 0.0 for name in DRAFT_FEATURES)

    def gates_out(self, s: Signals) -> bool:
        """The gate abstains on these retrieval signals before anything is generated (so a
        question the documents do not answer costs no decoding)."""
        return not self.gate_reads_draft() and self.answerable(s) < self.threshold

    def matches_features(self) -> bool:
        """False for a calibration whose weights do not fit its feature list (or names a feature
        this version does not compute)."""
        known = set(self.features) <= set(FEATURES)
        return known and all(
            not w or len(w) == len(self.features) + 1 for w in (self.weights, self.gate_weights)
        )

    def to_dict(self) -> dict:
        out = {}
        for k, v in asdict(self).items():
            if isinstance(v, float):
                out[k] = round(v, 6)
            elif k == "features":
                out[k] = list(v)
            else:
                out[k] = [round(x, 6) for x in v]
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Calibration:
        """A calibration.json entry; one written before ``features`` existed is read with the
        five signals it was fitted on, so a promoted older bundle keeps its exact gate."""
        return cls(**{"features": list(LEGACY_FEATURES), **data})


def fit_logistic(
    signals: Sequence[Signals], labels: Sequence[int], l2: float = 1.0, steps: int = 500
) -> tuple[list[float], list[float], list[float]]:
    """Plain gradient descent on standardised features (six features, ~200 points:
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


@dataclass(frozen=True)
class Gate:
    """The abstention gate: P(the documents answer the question) and the threshold below which
    the engine abstains, fitted by ``fit_gate``."""

    weights: list[float]  # bias + one per FEATURES (0 for the features the gate leaves out)
    means: list[float]
    scales: list[float]
    threshold: float
    threshold_ci: tuple[float, float]  # 95% bootstrap interval of the chosen threshold
    l2: float  # the regularisation cross-validation chose
    n: int
    n_unanswerable: int


def _youden_threshold(p: Sequence[float], answerable: Sequence[int], cost: float = 1.0) -> float:
    """The cut that best separates unanswerable (below) from answerable (at or above):
    maximises abstention recall minus ``cost`` × false-abstention rate (Youden's J when 1); ties
    go to the middle of the best interval, so one question more or less does not move it to an
    edge."""
    import numpy as np

    p, y = np.asarray(p, dtype=float), np.asarray(answerable, dtype=int)
    values = np.unique(p)
    if len(values) < 2 or y.min() == y.max():
        return 0.0
    cuts = (values[:-1] + values[1:]) / 2
    below = p[None, :] < cuts[:, None]
    recall = (below & (y == 0)).sum(1) / max(1, (y == 0).sum())
    false = (below & (y == 1)).sum(1) / max(1, (y == 1).sum())
    j = recall - cost * false
    best = np.flatnonzero(j >= j.max() - 1e-12)
    return float((cuts[best[0]] + cuts[best[-1]]) / 2)


def _normal_capped_threshold(p: Sequence[float], answerable: Sequence[int], max_false: float) -> float:  # fmt: skip
    """The budget's cut from a normal fitted to the answerable questions' logits: its
    ``max_false`` quantile. It moves with their mean and spread, not with the two or three
    questions that happen to sit in the tail (the empirical quantile jumps between them)."""
    import numpy as np
    from scipy import stats

    p, y = np.asarray(p, dtype=float), np.asarray(answerable, dtype=int)
    if y.min() == y.max():
        return 0.0
    q = np.clip(p[y == 1], 1e-6, 1 - 1e-6)
    logits = np.log(q / (1 - q))
    cut = stats.norm.ppf(max_false, loc=logits.mean(), scale=logits.std(ddof=1) or 1e-6)
    return float(1 / (1 + np.exp(-cut)))


def _capped_threshold(p: Sequence[float], answerable: Sequence[int], max_false: float) -> float:
    """The highest cut (most abstention) at which at most ``max_false`` of the answerable
    questions fall below it: abstention recall maximised under a false-abstention budget. The
    cut sits midway between the answerable probabilities around it."""
    import numpy as np

    p, y = np.asarray(p, dtype=float), np.asarray(answerable, dtype=int)
    if y.min() == y.max():
        return 0.0
    scores = np.sort(p[y == 1])
    allowed = int(np.floor(max_false * len(scores) + 1e-9))  # answerable questions below the cut
    if allowed >= len(scores):
        return float(scores[-1])
    low = scores[allowed - 1] if allowed > 0 else min(float(p.min()), float(scores[0])) - 1e-6
    return float((low + scores[allowed]) / 2)


def fit_gate(signals: Sequence[Signals], answerable: Sequence[bool], *,
             features: Sequence[str] = ("top_score", "margin", "coverage"),
             l2_grid: Sequence[float] = (0.3, 1.0, 3.0, 10.0, 30.0), folds: int = 5,
             resamples: int = 1000, false_abstention_cost: float = 1.0,
             max_false_abstention: float | None = None, budget_quantile: str = "empirical",
             fixed_threshold: float | None = None, seed: int = 0) -> Gate:  # fmt: skip
    """Fit the gate so that it does not swing with one document more or less.

    A logistic model on ``features`` (retrieval-side signals every answer system has), its L2
    strength chosen by stratified k-fold cross-validation (log loss); the threshold is chosen on
    the out-of-fold probabilities (no question judges the model it trained) by Youden's J with
    false abstentions weighted ``false_abstention_cost`` times a missed abstention — or, with
    ``max_false_abstention``, as the strictest cut keeping out-of-fold false abstention within
    that budget — and then bagged: it is the median of that choice over ``resamples`` bootstrap
    resamples (scipy), whose 2.5-97.5 percentiles are reported as its CI."""
    import numpy as np
    from scipy import stats

    y = np.asarray([int(a) for a in answerable])
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ValueError(f"unknown gate features: {', '.join(sorted(unknown))}")
    columns = [FEATURES.index(f) for f in features]
    rows = [
        Signals(*[v if i in columns else 0.0 for i, v in enumerate(s.vector())]) for s in signals
    ]

    def fit(index, l2):
        return fit_logistic([rows[i] for i in index], y[index].tolist(), l2=l2)

    def predict(model, index):
        return np.array([_logistic(*model, rows[i]) for i in index])

    rng = np.random.default_rng(seed)
    fold_of = np.empty(len(y), dtype=int)
    for label in (0, 1):  # stratified: each fold gets its share of unanswerable questions
        members = rng.permutation(np.flatnonzero(y == label))
        fold_of[members] = np.arange(len(members)) % folds
    k = min(folds, int(min((y == 0).sum(), (y == 1).sum())))
    if k < 2:
        raise ValueError("the gate needs at least 2 answerable and 2 unanswerable questions")
    best_l2, best_loss, oof = l2_grid[0], float("inf"), None
    for l2 in l2_grid:
        p = np.empty(len(y))
        for f in range(k):
            test = np.flatnonzero(fold_of % k == f)
            p[test] = predict(fit(np.flatnonzero(fold_of % k != f), l2), test)
        loss = float(
            -np.mean(y * np.log(np.clip(p, 1e-6, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-6, 1)))
        )
        if loss < best_loss - 1e-9:
            best_l2, best_loss, oof = l2, loss, p

    def choose(p, labels):
        if max_false_abstention is not None:
            capped = _normal_capped_threshold if budget_quantile == "normal" else _capped_threshold
            return capped(p, labels, max_false_abstention)
        return _youden_threshold(p, labels, false_abstention_cost)

    boot = stats.bootstrap((oof, y), choose, paired=True, vectorized=False,
                           n_resamples=resamples, method="percentile", rng=np.random.default_rng(seed))  # fmt: skip
    weights, means, scales = fit(np.arange(len(y)), best_l2)
    return Gate(weights=weights, means=means, scales=scales,
                threshold=float(np.median(boot.bootstrap_distribution)
                                if fixed_threshold is None else fixed_threshold),
                threshold_ci=(float(boot.confidence_interval.low), float(boot.confidence_interval.high)),
                l2=best_l2, n=len(y), n_unanswerable=int((y == 0).sum()))  # fmt: skip


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
