"""A/B comparison of two bundles on the same frozen test questions.

Both sides are read from the eval stages' per-question files (metrics/per_question/
{generation,retrieval}.jsonl, one row per system and question) at their own revisions, then
paired by question id. Every metric gets champion, challenger, difference, a paired-bootstrap
CI and a sign-flip permutation p-value (``significance.paired_test``); the secondaries' p-values
are Holm-adjusted. The verdict rule: promote when the primary improves with p < alpha and no
secondary is worse than its non-inferiority margin (the CI's bad end stays within it).

Fluency is the guide's second headline number, measured rather than judged: the mean of
(1 − repetition rate of Kiwi morpheme 3-grams) and the share of sentences that end in a Korean
final ending (Kiwi tag EF, as in "등재되었습니다.").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field

# metric → (per-question file, which rows count, value of a row, higher is better, statistic)
Row = dict
METRICS: dict[str, tuple[str, Callable[[Row], bool], Callable[[Row], float], bool, str]] = {
    "answerable_accuracy": ("generation", lambda r: r["answerable"], lambda r: float(r["correct"]), True, "mean"),
    "abstention_recall": ("generation", lambda r: not r["answerable"], lambda r: float(r["abstained"]), True, "mean"),
    "rouge_l": ("generation", lambda r: r["answerable"], lambda r: r["rouge_l"], True, "mean"),
    "token_f1": ("generation", lambda r: r["answerable"], lambda r: r["token_f1"], True, "mean"),
    "span_hit": ("generation", lambda r: r["answerable"], lambda r: r["span_hit"], True, "mean"),
    "fluency": ("generation", lambda r: not r["abstained"], lambda r: fluency(r["answer"]), True, "mean"),
    "latency_p95": ("generation", lambda r: True, lambda r: r["latency_ms"], False, "p95"),
    "recall@5": ("retrieval", lambda r: True, lambda r: r["recall@5"], True, "mean"),
    "mrr@10": ("retrieval", lambda r: True, lambda r: r["mrr@10"], True, "mean"),
}  # fmt: skip


@dataclass
class Side:
    """One bundle as the A/B test sees it: its label (version or rev), the answer system it
    serves, the retrieval system behind it, and its per-question rows."""

    label: str
    system: str
    generation: list[Row]
    retrieval: list[Row]
    retrieval_system: str = "hybrid"

    def rows(self, source: str) -> dict[str, Row]:
        if source == "generation":
            return {r["id"]: r for r in self.generation if r["system"] == self.system}
        return {r["id"]: r for r in self.retrieval if r["system"] == self.retrieval_system}


@dataclass
class Comparison:
    metric: str
    champion: float
    challenger: float
    difference: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    higher_is_better: bool
    p_holm: float | None = None
    margin: float | None = None
    worse_than_margin: bool = False


@dataclass
class ABResult:
    champion: str
    challenger: str
    primary: Comparison
    secondaries: list[Comparison]
    n_paired: int
    mde: float
    alpha: float
    verdict: str  # promote | hold
    reason: str
    first_promotion: bool = False
    changed: list[dict] = field(default_factory=list)  # questions that changed most


class NotEnoughPairs(ValueError):
    pass


def repetition_rate(tokens: list[str], n: int = 3) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else 0.0


_TRAILING = {"SF", "SP", "SS", "SSO", "SSC", "SE", "SO", "SW", "JX"}  # punctuation and 요


def well_formed_share(text: str) -> float:
    """Share of Kiwi sentences whose last word-forming morpheme is a final ending (EF)."""
    from pdfqa.korean import kiwi

    sentences = [s.text for s in kiwi().split_into_sents(text) if s.text.strip()]
    if not sentences:
        return 0.0
    ok = 0
    for sentence in sentences:
        tags = [t.tag for t in kiwi().tokenize(sentence)]
        while tags and tags[-1] in _TRAILING:
            tags.pop()
        ok += bool(tags) and tags[-1] == "EF"
    return ok / len(sentences)


def fluency(text: str) -> float:
    from pdfqa.korean import search_tokens

    return 0.5 * (1 - repetition_rate(search_tokens(text))) + 0.5 * well_formed_share(text)


def _compare(metric: str, champion: Side, challenger: Side, seed: int, resamples: int,
             min_paired: int) -> tuple[Comparison, list[tuple[str, float, float]]]:  # fmt: skip
    from pdfqa.lifecycle.significance import paired_test

    source, keep, value, higher, statistic = METRICS[metric]
    a_rows, b_rows = champion.rows(source), challenger.rows(source)
    ids = sorted(i for i in set(a_rows) & set(b_rows) if keep(a_rows[i]) and keep(b_rows[i]))
    if len(ids) < min_paired:
        raise NotEnoughPairs(
            f"{metric}: only {len(ids)} questions pair up between {champion.label} and "
            f"{challenger.label} (minimum {min_paired}); were they evaluated on the same test split?"
        )
    a = [value(a_rows[i]) for i in ids]
    b = [value(b_rows[i]) for i in ids]
    test = paired_test(b, a, statistic=statistic, resamples=resamples, seed=seed)
    summary = (lambda xs: sum(xs) / len(xs)) if statistic == "mean" else _p95
    comparison = Comparison(metric, summary(a), summary(b), test["difference"], test["ci_low"],
                            test["ci_high"], test["p_value"], len(ids), higher)  # fmt: skip
    return comparison, [(i, x, y) for i, x, y in zip(ids, a, b, strict=True)]


def _p95(values: list[float]) -> float:
    import numpy as np

    return float(np.percentile(values, 95))


def compare(
    champion: Side,
    challenger: Side,
    *,
    primary: str,
    secondaries: dict[str, float],
    alpha: float = 0.05,
    min_paired: int = 20,
    resamples: int = 9999,
    seed: int = 0,
    first_promotion: bool = False,
) -> ABResult:
    """``secondaries``: metric → non-inferiority margin (in the metric's units; for a
    lower-is-better metric like latency, how much worse is tolerated)."""
    from pdfqa.lifecycle.significance import holm, minimum_detectable_effect

    unknown = sorted({primary, *secondaries} - set(METRICS))
    if unknown:
        raise ValueError(f"unknown A/B metrics {unknown}; known: {', '.join(METRICS)}")
    main, pairs = _compare(primary, champion, challenger, seed, resamples, min_paired)
    others = [_compare(m, champion, challenger, seed, resamples, 2)[0] for m in secondaries]
    for comparison, adjusted in zip(others, holm([c.p_value for c in others]), strict=True):
        comparison.p_holm = adjusted
        comparison.margin = secondaries[comparison.metric]
        bad_end = comparison.ci_low if comparison.higher_is_better else -comparison.ci_high
        comparison.worse_than_margin = bad_end < -comparison.margin
    mde = minimum_detectable_effect([y - x for _, x, y in pairs], alpha=alpha)
    better = main.difference > 0 if main.higher_is_better else main.difference < 0
    worse = [c.metric for c in others if c.worse_than_margin]
    if not better or main.p_value >= alpha:
        verdict = "hold"
        reason = (f"{primary} did not improve significantly ({main.difference:+.3f}, p = "
                  f"{main.p_value:.3f} ≥ {alpha}; differences under ~{mde:.2f} are not "
                  f"detectable with {main.n} questions)") if better else (
                  f"{primary} did not improve ({main.difference:+.3f})")  # fmt: skip
    elif worse:
        verdict, reason = "hold", f"worse than the non-inferiority margin on {', '.join(worse)}"
    else:
        verdict = "promote"
        reason = f"{primary} {main.difference:+.3f} (p = {format_p(main.p_value)}), no secondary worse than its margin"
    if first_promotion:
        reason = f"first promotion (compared against the base models): {reason}"
    source = METRICS[primary][0]
    a_rows, b_rows = champion.rows(source), challenger.rows(source)
    changed = [
        {"id": i, "champion": x, "challenger": y, "question": b_rows[i].get("question", ""),
         "champion_answer": a_rows[i].get("answer", ""), "challenger_answer": b_rows[i].get("answer", "")}
        for i, x, y in sorted(pairs, key=lambda p: (-abs(p[2] - p[1]), p[0]))[:10] if x != y
    ]  # fmt: skip
    return ABResult(
        champion=champion.label, challenger=challenger.label, primary=main, secondaries=others,
        n_paired=main.n, mde=mde, alpha=alpha, verdict=verdict, reason=reason,
        first_promotion=first_promotion, changed=changed,
    )  # fmt: skip


def format_p(p: float) -> str:
    """Permutation p-values are never 0 (p = (k+1)/(B+1)): show small ones in full."""
    return f"{p:.3f}" if p >= 0.001 else f"{p:.1e}"


def to_metrics(result: ABResult) -> dict:
    """metrics/ab.json: DVC metrics (numbers rounded so the file diffs cleanly)."""

    def row(c: Comparison) -> dict:
        out = {k: round(v, 4) if isinstance(v, float) else v for k, v in asdict(c).items()}
        return {k: v for k, v in out.items() if v is not None}

    return {
        "champion": result.champion, "challenger": result.challenger, "verdict": result.verdict,
        "reason": result.reason, "first_promotion": result.first_promotion,
        "n_paired": result.n_paired, "alpha": result.alpha, "mde": round(result.mde, 4),
        "primary": row(result.primary), "secondaries": {c.metric: row(c) for c in result.secondaries},
    }  # fmt: skip


def render_markdown(result: ABResult) -> str:
    """reports/ab.md: the table, the verdict and the questions that changed most."""
    head = (
        "first promotion: base models" if result.first_promotion else f"champion {result.champion}"
    )
    lines = [
        f"# A/B test: {result.challenger} vs {head}", "",
        f"**Verdict: {result.verdict}** — {result.reason}.", "",
        f"{result.n_paired} paired test questions for the primary metric; 95% paired-bootstrap CIs, "
        f"sign-flip permutation p-values (Holm-adjusted over the secondaries), alpha {result.alpha}. "
        f"Minimum detectable effect on the primary at 80% power: {result.mde:.3f}.", "",
        "| metric | champion | challenger | difference | 95% CI | p | p (Holm) | margin | n |",
        "|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for c in [result.primary, *result.secondaries]:
        name = f"**{c.metric}** (primary)" if c is result.primary else c.metric
        flag = " ⚠" if c.worse_than_margin else ""
        holm = "–" if c.p_holm is None else format_p(c.p_holm)
        margin = "–" if c.margin is None else f"{c.margin:g}"
        lines.append(f"| {name} | {c.champion:.3f} | {c.challenger:.3f} | {c.difference:+.3f}{flag} | "
                     f"[{c.ci_low:+.3f}, {c.ci_high:+.3f}] | {format_p(c.p_value)} | {holm} | {margin} | {c.n} |")  # fmt: skip
    if result.changed:
        lines += ["", f"## Questions that changed most ({result.primary.metric})", "",
                  "| question | champion | challenger |", "|---|---|---|"]  # fmt: skip
        for q in result.changed:

            def cell(text: str, value: float) -> str:
                return f"{value:g} — {text.replace('|', '/').replace(chr(10), ' ')[:200]}"

            lines.append(f"| {q['question'] or q['id']} | {cell(q['champion_answer'], q['champion'])} | "
                         f"{cell(q['challenger_answer'], q['challenger'])} |")  # fmt: skip
    return "\n".join(lines) + "\n"
