"""reports/generation.md: the metrics table, LoRA − base CIs, reliability tables, every
unanswerable test question with each system's decision, and sample answers side by side."""

from __future__ import annotations

import random


def render_report(results, deltas, test, samples, ec, calibrations) -> str:
    systems = ec.systems
    keys = ["overall_system_score", "rouge_l", "token_f1", "span_hit", "bleu", "corpus_bleu", "faithfulness",
            "answerable_accuracy", "accuracy_when_answered", "abstention_precision",
            "abstention_recall", "calibration_ece", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip
    n_unans = sum(not r["answerable"] for r in test)
    lines = [
        "# Generation evaluation", "",
        f"Frozen test split: {len(test)} human questions ({len(test) - n_unans} answerable, {n_unans} "
        "unanswerable). Text metrics on answerable questions; ROUGE-L, token F1 and span hit on Kiwi "
        "morphemes; BLEU with sacrebleu `tokenize=\"char\"`. Abstention threshold and confidence model "
        "fitted on val" + (f" ({', '.join(ec.test_only)}: answers test only, so its confidence is the "
                           "params' blend, not fitted)" if ec.test_only else "")
        + ". Latency: single-question `answer()` calls "
        f"(first {ec.latency_samples} test questions); weights {ec.weights}.", "",
        "| metric | " + " | ".join(systems) + " |", "|---|" + "---|" * len(systems),
    ]  # fmt: skip
    for k in keys:
        lines.append(f"| {k} | " + " | ".join(f"{results[s][k]:.3f}" if "latency" not in k
                                               else f"{results[s][k]:.0f}" for s in systems) + " |")  # fmt: skip
    if deltas:
        lines += ["", "LoRA − base on answerable test questions (paired bootstrap, 95% CI):", ""]
        for name, d in deltas.items():
            lines.append(f"- {name}: {d['mean']:+.4f} [{d['ci95_low']:+.4f}, {d['ci95_high']:+.4f}] "
                         f"over {d['n_queries']} questions")  # fmt: skip
    lines += ["", "## Confidence calibration (test)", ""]
    for s in systems:
        lines += [f"**{s}** — confidence = P(correct answer), ECE {results[s]['calibration_ece']:.3f}; "
                  f"abstains when the answerability score is below {calibrations[s]['threshold']:.3f} "
                  "(chosen on val)", "", "| confidence | n | mean confidence | accuracy |",
                  "|---|---|---|---|"]  # fmt: skip
        for row in results[s + "_reliability"]:
            conf, acc = (
                ("–" if v is None else f"{v:.2f}") for v in (row["confidence"], row["accuracy"])
            )
            lines.append(f"| {row['bin']} | {row['n']} | {conf} | {acc} |")
        lines.append("")
    unanswerable_rows = [i for i, r in enumerate(test) if not r["answerable"]]
    if unanswerable_rows:
        lines += ["## Unanswerable test questions", "",
                  "Answerability score per system (the abstention gate; threshold chosen on val); "
                  "✓ = abstained (the right call), ✗ = answered. "
                  "`coverage`: IDF-weighted share of the question's words found in the contexts.", "",
                  "| question | coverage | " + " | ".join(systems) + " |",
                  "|---|---|" + "---|" * len(systems)]  # fmt: skip
        for i in unanswerable_rows:
            cells = [f"{'✓' if samples[s][i].abstained else '✗'} {samples[s][i].answerable_score:.2f}"
                     for s in systems]  # fmt: skip
            coverage = samples[systems[0]][i].signals.coverage
            lines.append(f"| {test[i]['question']} | {coverage:.2f} | " + " | ".join(cells) + " |")
        lines.append("")
    rng = random.Random(0)
    answerable = [i for i, r in enumerate(test) if r["answerable"]]
    unanswerable = [i for i, r in enumerate(test) if not r["answerable"]]
    picks = sorted(rng.sample(answerable, min(8, len(answerable))) + unanswerable[:2])[
        : ec.samples_in_report
    ]
    lines += ["## Sample answers", ""]
    for i in picks:
        r = test[i]
        lines += [f"**{r['id']}** ({r['source']} p.{r['page']}) — {r['question']}", "",
                  f"- reference: {r['answer']}"]  # fmt: skip
        for s in systems:
            a = samples[s][i]
            cites = ", ".join(f"{src} p.{p}" for src, p in a.citations) or "—"
            text = a.text.replace("\n", " ")[:300]
            lines.append(f"- **{s}** (confidence {a.confidence_score:.2f}; {cites}): {text}")
        lines.append("")
    return "\n".join(lines)
