"""Answer evaluation on the frozen test split (human questions): stage ``eval_generation``.

Each system (base / lora / extractive) answers val and test once. On val, the confidence model
(P(correct answer)), the answerability gate and its abstention threshold are fitted
(``models/calibration.json``, which ``pdfqa ask`` uses), and the val summary the bundle stage
chooses its serving system by; test only reports. Per-question test rows are kept so the A/B
test can pair them across revisions.
"""

from __future__ import annotations

import gc as garbage
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pdfqa.errors import PdfqaError

if TYPE_CHECKING:
    from pdfqa.config import GeneratorConfig, Params
    from pdfqa.generation.confidence import Calibration, Gate

log = logging.getLogger("pdfqa.eval_generation")
TEXT_METRICS = ("bleu", "rouge_l", "token_f1", "span_hit")
DELTA_METRICS = ("rouge_l", "span_hit", "token_f1")


@dataclass
class GenerationEvaluation:
    metrics: dict  # metrics/generation.json
    calibrations: dict[str, dict]  # models/calibration.json: system → fitted Calibration
    per_question: list[dict]  # one row per (system, test question), sorted
    report: str  # reports/generation.md


def score(records: list[dict], answers: list) -> list[dict]:
    """Per-question metrics (text metrics on answerable questions only)."""
    from pdfqa.generation.metrics import (
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
    from pdfqa.generation.metrics import (
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


def answer_all(engine, records: list[dict], batch_size: int, desc: str) -> list:
    """Every record's answer, in order. The gate abstains before anything is generated, so the
    questions it lets through are batched first: every generating batch is full (a batch's cost
    is one decode loop however many of its rows were gated out), the gated-out ones come last
    and cost only their retrieval (remembered from the gate check)."""
    from tqdm import tqdm

    questions = [r["question"] for r in records]
    gated = engine.gated_out(questions)
    order = sorted(range(len(records)), key=lambda i: gated[i])  # stable: passed first, in order
    answers: list = [None] * len(records)
    for start in tqdm(range(0, len(order), batch_size), desc=desc, unit="batch"):
        chunk = order[start : start + batch_size]
        batch = engine.answer_batch([questions[i] for i in chunk])
        for i, answer in zip(chunk, batch, strict=True):
            answers[i] = answer
    return answers


def fit_shared_gate(gate_records: list[dict], retriever, cfg) -> Gate | None:
    """The abstention gate every system shares: "do the documents answer this question?" is a
    property of the question and the corpus, not of the generator, so it is fitted once, on
    retrieval-side signals, over train + val (``generator.confidence.gate_data``; ~3× the
    unanswerable questions val alone has) — cheap, since nothing is generated."""
    from pdfqa.generation.confidence import Calibration, fit_gate
    from pdfqa.generation.engine import engine_for

    cc = cfg.generator.confidence
    labels = [bool(r["answerable"]) for r in gate_records]
    if sum(labels) < 2 or len(labels) - sum(labels) < 2:
        log.warning("the gate needs ≥ 2 answerable and ≥ 2 unanswerable questions: not fitted")
        return None
    engine = engine_for("extractive", cfg, retriever, calibration=Calibration(threshold=0.0))
    signals = engine.retrieval_signals([r["question"] for r in gate_records])
    gate = fit_gate(signals, labels, features=cc.gate_features, folds=cc.gate_folds,
                    resamples=cc.gate_resamples, false_abstention_cost=cc.gate_false_abstention_cost,
                    max_false_abstention=cc.gate_max_false_abstention,
                    budget_quantile=cc.gate_budget_quantile, fixed_threshold=cc.gate_threshold,
                    seed=cfg.seed)  # fmt: skip
    log.info("abstention gate on %d questions (%d unanswerable): threshold %.3f [%.3f, %.3f], L2 %g",
             gate.n, gate.n_unanswerable, gate.threshold, *gate.threshold_ci, gate.l2)  # fmt: skip
    return gate


def gate_records(train: list[dict], val: list[dict], cfg) -> list[dict]:
    return val if cfg.generator.confidence.gate_data == "val" else train + val


def gate_only(gate: Gate | None, settings: GeneratorConfig) -> Calibration:
    """A calibration holding just the shared gate: answering with it, the engine never
    generates for a question the gate abstains on (no gate: threshold 0, everything answered)."""
    from pdfqa.generation.confidence import Calibration

    calibration = Calibration(0.0, settings.confidence.retrieval_weight)
    if gate is not None:
        calibration.gate_weights, calibration.gate_means = list(gate.weights), list(gate.means)
        calibration.gate_scales, calibration.threshold = list(gate.scales), gate.threshold
        calibration.threshold_ci = list(gate.threshold_ci)
    return calibration


def passed_gate(answers: list, calibration: Calibration) -> list[bool]:
    """Which answers the gate let the model write (the others were never generated)."""
    return [a.answerable_score >= calibration.threshold for a in answers]


def calibrate(val: list[dict], raw_answers: list, settings: GeneratorConfig,
              gate: Gate | None) -> Calibration:  # fmt: skip
    """Fit the confidence shown with an answer (target: answerable and correct) on the val
    questions the shared abstention gate (``fit_shared_gate``) lets through — the only ones
    that are answered, so the only ones a confidence is shown for — and attach the gate."""
    from pdfqa.generation.confidence import fit_logistic

    calibration = gate_only(gate, settings)
    rows = score(val, raw_answers)
    kept = [i for i, ok in enumerate(passed_gate(raw_answers, calibration)) if ok]
    signals = [raw_answers[i].signals for i in kept]
    correct = [int(rows[i]["answerable"] and rows[i]["correct"]) for i in kept]
    if 0 < sum(correct) < len(correct):  # else nothing to separate: keep the blend
        calibration.weights, calibration.means, calibration.scales = fit_logistic(signals, correct)
    return calibration


def val_summary(val: list[dict], answers: list, weights: dict[str, float], latencies) -> dict:
    """The same summary on val, with the calibration fitted there (so in-sample for the gate):
    what the bundle stage chooses its answer system by, never test. Also how confident the
    system is when it is right, which says whether promotion's min_confidence is reachable."""
    import numpy as np

    rows = score(val, answers)
    for row, record in zip(rows, val, strict=True):
        row["reference"] = record["answer"]
    out = summarise(rows, answers, weights, latencies)
    right = [r["confidence"] for r in rows if r["answerable"] and r["correct"]]
    out["n"] = len(val)
    out["confidence_when_correct_p50"] = round(float(np.median(right)), 4) if right else 0.0
    out["confidence_when_correct_max"] = round(max(right), 4) if right else 0.0
    return dict(sorted(out.items()))


def per_question_row(system: str, row: dict, record: dict, answer) -> dict:
    """One line of metrics/per_question/generation.jsonl: the scores plus what was answered."""
    out = {
        k: round(v, 4) if isinstance(v, float) else v for k, v in row.items() if k != "reference"
    }
    out.update(system=system, question=record["question"], answer=answer.text,
               answerable_score=round(answer.answerable_score, 4),
               citations=[[source, page] for source, page in answer.citations])  # fmt: skip
    out["latency_ms"] = round(answer.latency_ms, 1)
    return out


def evaluate_generation(
    val: list[dict], test: list[dict], retriever, cfg: Params, train: list[dict] | None = None
) -> GenerationEvaluation:
    """Answer val and test with every system in ``eval_generation.systems`` (test only for
    ``eval_generation.test_only``), fit the shared abstention gate on train + val and each
    served system's confidence on val, score test; LoRA − base gets paired-bootstrap CIs."""
    from pdfqa.generation.confidence import reliability_table
    from pdfqa.generation.engine import engine_for
    from pdfqa.generation.report import render_report
    from pdfqa.stats import paired_bootstrap

    gc, ec = cfg.generator, cfg.eval_generation
    results, calibrations, per_question, samples, val_results = {}, {}, {}, {}, {}
    gate = fit_shared_gate(gate_records(train or [], val, cfg), retriever, cfg)
    for system in ec.systems:
        # the gate is known before anything is generated: questions it abstains on cost nothing
        engine = engine_for(system, cfg, retriever, calibration=gate_only(gate, gc))
        # a test-only system (the untuned base: compared, never served) needs no val answers —
        # nothing to choose it by or fit its confidence on — so it keeps the params' blend
        served = system not in ec.test_only
        raw_val = answer_all(engine, val, gc.batch_size, f"{system} val") if served else []
        # latency: the first test questions are answered one at a time, as a user asks them
        # (timed), the rest in batches — each question is answered once
        singles = [engine.answer(r["question"]) for r in test[: ec.latency_samples]]
        latencies = [a.latency_ms for a in singles]
        raw_test = singles + answer_all(
            engine, test[len(singles) :], gc.batch_size, f"{system} test"
        )
        calibration = calibrate(val, raw_val, gc, gate) if served else gate_only(gate, gc)
        engine.calibration = calibration
        if served:
            val_results[system] = val_summary(val, [engine.decide(a) for a in raw_val],
                                              ec.weights, latencies)  # fmt: skip
        answers = [engine.decide(a) for a in raw_test]
        rows = score(test, answers)
        for row, record in zip(rows, test, strict=True):
            row["reference"] = record["answer"]
        metrics = summarise(rows, answers, ec.weights, latencies)
        passed = passed_gate(raw_test, calibration)
        written = [r for r, ok in zip(score(test, raw_test), passed, strict=True) if ok]
        answerable_rows = [r for r in written if r["answerable"]]
        metrics["accuracy_when_answered"] = round(
            sum(r["correct"] for r in answerable_rows) / max(1, len(answerable_rows)), 4
        )
        # the confidence's own target, as fitted: the written answer is correct (never, when the
        # documents hold no answer) — on the questions the gate let through
        table, ece = reliability_table(
            [r["confidence"] for r, ok in zip(rows, passed, strict=True) if ok],
            [r["answerable"] and r["correct"] for r in written],
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
        for metric in DELTA_METRICS:
            a = [r[metric] for r in per_question["lora"] if r["answerable"]]
            b = [r[metric] for r in per_question["base"] if r["answerable"]]
            deltas[f"lora_minus_base_{metric}"] = paired_bootstrap(a, b, ec.bootstrap, cfg.seed)
    summary = {
        "systems": {s: results[s] for s in ec.systems}, "deltas": deltas, "val": val_results,
        "reliability": {s: results[s + "_reliability"] for s in ec.systems},
        "n_test": len(test), "n_unanswerable": sum(not r["answerable"] for r in test),
        "gate": None if gate is None else {
            "threshold": round(gate.threshold, 4), "threshold_ci95": [round(x, 4) for x in gate.threshold_ci],
            "l2": gate.l2, "n": gate.n, "n_unanswerable": gate.n_unanswerable,
            "features": list(cfg.generator.confidence.gate_features),
            "data": cfg.generator.confidence.gate_data},
        "bleu_tokenize": "char", "text_tokenize": "kiwi morphemes",
    }  # fmt: skip
    rows = [per_question_row(s, row, record, answer) for s in ec.systems
            for row, record, answer in zip(per_question[s], test, samples[s], strict=True)]  # fmt: skip
    rows.sort(key=lambda row: (row["system"], row["id"]))
    report = render_report(results, deltas, test, samples, ec, calibrations)
    return GenerationEvaluation(summary, calibrations, rows, report)
