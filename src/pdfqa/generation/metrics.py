"""Answer quality metrics with Korean tokenisation.

English-centric scorers silently fail on Korean (``rouge_score`` drops Hangul, so identical
Korean strings score 0). Here every token-level metric uses Kiwi morphemes
(``korean.search_tokens``: particles and endings split off, punctuation dropped, Latin
lower-cased), and BLEU uses sacrebleu's character tokenisation (``tokenize="char"``), which
needs no segmenter and is the usual choice for Korean/CJK.

- ``rouge_l``: LCS F1 over morphemes.
- ``token_f1``: SQuAD-style bag-of-morphemes F1.
- ``span_hit``: the reference's *answer span* — its content words that also occur in the
  evidence passage (the facts copied from the document) — all appear in the prediction.
- ``faithfulness``: share of the prediction's content words found in the contexts it cites.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from pdfqa.korean import content_tokens, search_tokens


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b, 1):
            current.append(previous[j - 1] + 1 if x == y else max(previous[j], current[j - 1]))
        previous = current
    return previous[-1]


def rouge_l(prediction: str, reference: str) -> float:
    p, r = search_tokens(prediction), search_tokens(reference)
    lcs = lcs_length(p, r)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(p), lcs / len(r)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, reference: str) -> float:
    p, r = Counter(search_tokens(prediction)), Counter(search_tokens(reference))
    common = sum((p & r).values())
    if common == 0:
        return 0.0
    precision, recall = common / sum(p.values()), common / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def sentence_bleu(prediction: str, reference: str) -> float:
    import sacrebleu

    return sacrebleu.sentence_bleu(prediction, [reference], tokenize="char").score / 100


def corpus_bleu(predictions: Sequence[str], references: Sequence[str]) -> float:
    import sacrebleu

    return sacrebleu.corpus_bleu(list(predictions), [list(references)], tokenize="char").score / 100


def answer_span(reference: str, evidence: str) -> list[str]:
    """Content words of the reference that the evidence contains (falls back to all of them)."""
    ref = list(dict.fromkeys(content_tokens(reference)))
    ev = set(content_tokens(evidence))
    return [t for t in ref if t in ev] or ref


def span_hit(prediction: str, span: Sequence[str]) -> float:
    predicted = set(content_tokens(prediction))
    return float(bool(span) and all(t in predicted for t in span))


def faithfulness(prediction: str, cited_texts: Sequence[str]) -> float:
    words = content_tokens(prediction)
    if not words:
        return 0.0
    available = set(content_tokens("\n".join(cited_texts)))
    return sum(1 for w in words if w in available) / len(words)


def is_correct(f1: float, hit: float) -> bool:
    """An answer counts as correct when it carries the document's answer span or overlaps the
    reference well; used for answerable accuracy and as the confidence calibration target."""
    return hit >= 1.0 or f1 >= 0.5


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def abstention_scores(abstained: Sequence[bool], answerable: Sequence[bool]) -> dict[str, float]:
    true_pos = sum(1 for ab, an in zip(abstained, answerable, strict=True) if ab and not an)
    n_abstained = sum(abstained)
    n_unanswerable = sum(1 for an in answerable if not an)
    precision = true_pos / n_abstained if n_abstained else 0.0
    recall = true_pos / n_unanswerable if n_unanswerable else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"abstention_precision": precision, "abstention_recall": recall, "abstention_f1": f1}


def overall_system_score(metrics: dict[str, float], weights: dict[str, float]) -> float:
    total = sum(weights.values())
    return sum(metrics[name] * w for name, w in weights.items()) / total if total else 0.0
