"""Stage eval_generation: base / lora / extractive answer engines on the frozen test split
(human questions) → metrics/generation.json, reports/generation.md, models/calibration.json.

Each system answers val and test once. On val, the confidence model (P(correct answer)), the
answerability gate and its abstention threshold are fitted (models/calibration.json, which
`pdfqa ask` uses); test only reports."""

from __future__ import annotations

import gc as garbage
import logging
from typing import TYPE_CHECKING

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.confidence import Calibration

log = logging.getLogger("pdfqa.eval_generation")
TEXT_METRICS = ("bleu", "rouge_l", "token_f1", "span_hit")


def score(records: list[dict], answers: list) -> list[dict]:
    """Per-question metrics (text metrics on answerable questions only)."""
    from pdfqa.answer_metrics import (
        answer_span,
        faithfulness,
        is_correct,
        rouge_l,
        sentence_bleu,
        span_hit,
        token_f1,
    )

    rows = []
    for record, answer in zip(records, answers, strict=True):
        row = {"id": record["id"], "answerable": record["answerable"], "abstained": answer.abstained,
               "confidence": answer.confidence_score, "latency_ms": answer.latency_ms}  # fmt: skip
        if record["answerable"]:
            text = answer.text
            row.update(bleu=sentence_bleu(text, record["answer"]), rouge_l=rouge_l(text, record["answer"]),
                       token_f1=token_f1(text, record["answer"]),
                       span_hit=span_hit(text, answer_span(record["answer"], record.get("evidence", ""))))  # fmt: skip
            row["correct"] = (not answer.abstained) and is_correct(row["token_f1"], row["span_hit"])
        else:
            row["correct"] = answer.abstained
        if not answer.abstained:
            cited = [
                h.text for h in answer.contexts if (h.source, h.page_start) in set(answer.citations)
            ]
            row["faithfulness"] = faithfulness(answer.text, cited)
        rows.append(row)
    return rows


def summarise(
    rows: list[dict], answers: list, weights: dict[str, float], latencies: list[float]
) -> dict:
    from pdfqa.answer_metrics import (
        abstention_scores,
        corpus_bleu,
        overall_system_score,
        percentile,
    )

    answerable = [r for r in rows if r["answerable"]]
    out = {k: sum(r[k] for r in answerable) / len(answerable) for k in TEXT_METRICS if answerable}
    texts = [a.text for a, r in zip(answers, rows, strict=True) if r["answerable"]]
    refs = [r["reference"] for r in rows if r["answerable"]]
    out["corpus_bleu"] = corpus_bleu(texts, refs) if texts else 0.0
    answered = [r["faithfulness"] for r in rows if "faithfulness" in r]
    out["faithfulness"] = sum(answered) / len(answered) if answered else 0.0
    out["answerable_accuracy"] = sum(r["correct"] for r in answerable) / max(1, len(answerable))
    out.update(abstention_scores([r["abstained"] for r in rows], [r["answerable"] for r in rows]))
    out["latency_p50_ms"] = percentile(latencies, 0.5)
    out["latency_p95_ms"] = percentile(latencies, 0.95)
    unknown = set(weights) - set(out)
    if unknown:
        raise PdfqaError(
            f"eval_generation.weights names unknown metrics: {', '.join(sorted(unknown))}"
        )
    out["overall_system_score"] = overall_system_score(out, weights)
    return {k: round(v, 4) for k, v in sorted(out.items())}


def _answer_all(engine, records: list[dict], batch_size: int, desc: str) -> list:
    from tqdm import tqdm

    answers = []
    for i in tqdm(range(0, len(records), batch_size), desc=desc, unit="batch"):
        answers.extend(engine.answer_batch([r["question"] for r in records[i : i + batch_size]]))
    return answers


def calibrate(val: list[dict], raw_answers: list, settings) -> Calibration:
    """Fit the confidence (target: answerable and correct) and the abstention gate (target:
    answerable) on val, then choose the gate's threshold there."""
    from pdfqa.confidence import Calibration, choose_threshold, fit_logistic

    rows = score(val, raw_answers)
    signals = [a.signals for a in raw_answers]
    calibration = Calibration(0.0, settings.confidence.retrieval_weight)
    correct = [int(r["answerable"] and r["correct"]) for r in rows]
    if 0 < sum(correct) < len(correct):  # else nothing to separate: keep the blend
        calibration.weights, calibration.means, calibration.scales = fit_logistic(signals, correct)
    answerable = [int(r["answerable"]) for r in rows]
    if 0 < sum(answerable) < len(answerable):
        fitted = fit_logistic(signals, answerable)
        calibration.gate_weights, calibration.gate_means, calibration.gate_scales = fitted
    calibration.threshold = choose_threshold(
        [calibration.answerable(s) for s in signals], [r["answerable"] for r in rows],
        [r["correct"] for r in rows], [a.abstained for a in raw_answers],
        settings.confidence.max_answerable_drop,
    )  # fmt: skip
    return calibration


def main(cfg: Params) -> None:
    from pdfqa.confidence import Calibration, reliability_table
    from pdfqa.evaluation import paired_bootstrap
    from pdfqa.generation import engine_for
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.retrieval import Retriever

    paths, gc, ec = cfg.paths, cfg.generator, cfg.eval_generation
    for needed in (paths.qa_split("val"), paths.qa_split("test"), paths.index / "manifest.json"):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found: run `dvc repro index` first")
    val = list(read_jsonl(paths.qa_split("val")))
    test = list(read_jsonl(paths.qa_split("test")))
    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)

    results, calibrations, per_question, samples = {}, {}, {}, {}
    for system in ec.systems:
        engine = engine_for(system, cfg, retriever, calibration=Calibration(threshold=0.0))
        raw_val = _answer_all(engine, val, gc.batch_size, f"{system} val")
        raw_test = _answer_all(engine, test, gc.batch_size, f"{system} test")
        latencies = [engine.answer(r["question"]).latency_ms for r in test[: ec.latency_samples]]
        calibration = calibrate(val, raw_val, gc)
        engine.calibration = calibration
        answers = [engine.decide(a) for a in raw_test]
        rows = score(test, answers)
        for row, record in zip(rows, test, strict=True):
            row["reference"] = record["answer"]
        metrics = summarise(rows, answers, ec.weights, latencies)
        no_threshold = score(test, raw_test)
        answerable_rows = [r for r in no_threshold if r["answerable"]]
        metrics["answerable_accuracy_without_threshold"] = round(
            sum(r["correct"] for r in answerable_rows) / max(1, len(answerable_rows)), 4
        )
        # the confidence's own target, as fitted: the model's answer is correct (never, when the
        # documents hold no answer), whether or not the gate then abstains
        table, ece = reliability_table(
            [r["confidence"] for r in rows],
            [r["answerable"] and r["correct"] for r in no_threshold],
        )
        metrics["calibration_ece"] = ece
        results[system] = metrics
        calibrations[system] = calibration.to_dict()
        per_question[system] = rows
        samples[system] = answers
        results[system + "_reliability"] = table
        log.info("%s: ROUGE-L %.3f, span hit %.3f, abstention recall %.2f, overall %.3f", system,
                 metrics["rouge_l"], metrics["span_hit"], metrics["abstention_recall"],
                 metrics["overall_system_score"])  # fmt: skip
        del engine
        garbage.collect()

    deltas = {}
    if {"lora", "base"} <= set(per_question):
        for metric in ("rouge_l", "span_hit", "token_f1"):
            a = [r[metric] for r in per_question["lora"] if r["answerable"]]
            b = [r[metric] for r in per_question["base"] if r["answerable"]]
            deltas[f"lora_minus_base_{metric}"] = paired_bootstrap(a, b, ec.bootstrap, cfg.seed)
    write_json(paths.calibration, calibrations)
    write_json(paths.generation_metrics, {
        "systems": {s: results[s] for s in ec.systems}, "deltas": deltas,
        "reliability": {s: results[s + "_reliability"] for s in ec.systems},
        "n_test": len(test), "n_unanswerable": sum(not r["answerable"] for r in test),
        "bleu_tokenize": "char", "text_tokenize": "kiwi morphemes",
    })  # fmt: skip
    paths.generation_report.parent.mkdir(parents=True, exist_ok=True)
    paths.generation_report.write_text(
        report(results, deltas, test, samples, ec, calibrations), encoding="utf-8"
    )


def report(results, deltas, test, samples, ec, calibrations) -> str:
    import random

    systems = ec.systems
    keys = ["overall_system_score", "rouge_l", "token_f1", "span_hit", "bleu", "corpus_bleu", "faithfulness",
            "answerable_accuracy", "answerable_accuracy_without_threshold", "abstention_precision",
            "abstention_recall", "calibration_ece", "latency_p50_ms", "latency_p95_ms"]  # fmt: skip
    n_unans = sum(not r["answerable"] for r in test)
    lines = [
        "# Generation evaluation", "",
        f"Frozen test split: {len(test)} human questions ({len(test) - n_unans} answerable, {n_unans} "
        "unanswerable). Text metrics on answerable questions; ROUGE-L, token F1 and span hit on Kiwi "
        "morphemes; BLEU with sacrebleu `tokenize=\"char\"`. Abstention threshold and confidence model "
        "fitted on val. Latency: single-question `answer()` calls "
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


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("eval_generation", main, __doc__))
