"""The abstention gate's trade-off on the cold-start folds: how false abstention, abstention
recall, span hit + right page and the gate's stability (adding the held-out PDF) move with the
gate's settings (``generator.confidence``: features, data, false-abstention cost or budget).

    python benchmarks/coldstart_gate.py [--docs kotex-doc.pdf ...]

Needs the fold embedders ``benchmarks/coldstart.py`` trained (models/.coldstart/, same code and
params). Every question is answered once per fold and index (the extractive answer does not
depend on the gate); each setting then only refits the gate on the other documents' train + val
questions — never on the held-out document's — and re-decides who is answered. A setting is
fitted without looking at the folds; the table is for choosing the trade-off in params.yaml, so
read it as a curve, not as a tuned result.
"""

from __future__ import annotations

import argparse

NO_BUDGET = {"gate_max_false_abstention": None}  # the cost trade-off (Youden's J) instead


def _budget(share: float, quantile: str = "normal") -> dict:
    return {"gate_max_false_abstention": share, "gate_budget_quantile": quantile}


# name → generator.confidence overrides; every name says all it changes, whatever params.yaml holds
VARIANTS = {
    "params.yaml": {},
    "Youden's J (cost 1)": {**NO_BUDGET, "gate_false_abstention_cost": 1.0},
    "cost 1.5": {**NO_BUDGET, "gate_false_abstention_cost": 1.5},
    "cost 2": {**NO_BUDGET, "gate_false_abstention_cost": 2.0},
    "cost 3": {**NO_BUDGET, "gate_false_abstention_cost": 3.0},
    # the tail's empirical quantile jumps between the few answerable questions that sit there
    "budget 0.10, empirical quantile": _budget(0.10, "empirical"),
    "budget 0.05, empirical quantile": _budget(0.05, "empirical"),
    "budget 0.03, empirical quantile": _budget(0.03, "empirical"),
    "budget 0.10, normal quantile": _budget(0.10),
    "budget 0.08, normal quantile": _budget(0.08),
    "budget 0.05, normal quantile": _budget(0.05),
    "budget 0.03, normal quantile": _budget(0.03),
    "coverage only": {"gate_features": ["coverage", "corpus_coverage"]},
    # the dense margin shrinks whenever a new PDF adds a near-duplicate passage: without it?
    "no margin": {"gate_features": ["top_score", "coverage", "corpus_coverage"]},
    "no margin, budget 0.08": {
        "gate_features": ["top_score", "coverage", "corpus_coverage"],
        **_budget(0.08),
    },
    "top score + coverage": {"gate_features": ["top_score", "coverage"]},
    "val only": {"gate_data": "val"},
    "fixed cut 0.4": {"gate_threshold": 0.4},
    "fixed cut 0.5": {"gate_threshold": 0.5},
    "fixed cut 0.6": {"gate_threshold": 0.6},
}


def answered_rows(engine, records: list[dict]) -> list[dict]:
    """Each question answered with the gate open: its signals, and whether the answer (if it is
    shown) holds the key phrase and cites a right page."""
    from pdfqa.generation.metrics import answer_span, span_hit
    from pdfqa.lifecycle.coldstart import _cited_page_ok

    rows = []
    answers = engine.answer_batch([r["question"] for r in records])
    for record, answer in zip(records, answers, strict=True):
        row = {"answerable": record["answerable"], "signals": answer.signals,
               "model_abstained": answer.abstained}  # fmt: skip
        if record["answerable"] and not answer.abstained:
            hit = bool(
                span_hit(answer.text, answer_span(record["answer"], record.get("evidence", "")))
            )
            row["hit_cited"] = hit and _cited_page_ok(answer, record)
        rows.append(row)
    return rows


def decide(rows: list[dict], calibration) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def abstains(r) -> bool:
        return r["model_abstained"] or calibration.answerable(r["signals"]) < calibration.threshold

    return {
        "n_fa": sum(abstains(r) for r in answerable), "n_answerable": len(answerable),
        "n_hit": sum((not abstains(r)) and r.get("hit_cited", False) for r in answerable),
        "n_recall": sum(abstains(r) for r in unanswerable), "n_unanswerable": len(unanswerable),
    }  # fmt: skip


def main() -> None:
    from _folds import add_fold_arguments, setup, trained_folds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fold_arguments(parser)
    args = parser.parse_args()
    cfg, chunks, human, docs = setup(args)

    from pdfqa.generation.confidence import Calibration, fit_gate
    from pdfqa.generation.engine import engine_for
    from pdfqa.generation.evaluate import gate_only
    from pdfqa.lifecycle import coldstart
    from pdfqa.models import load_sentence_transformer

    totals: dict[str, dict] = {}
    for doc, fold, model_dir in trained_folds(args, cfg, chunks, human, docs):
        model = load_sentence_transformer(str(model_dir))
        others = [c for c in chunks if c["source"] != doc]
        indexes = {  # as benchmarks/coldstart.py builds them (learned fusion fitted on val)
            "with": coldstart.fold_retriever(chunks, model, model_dir, fold, cfg),
            "without": coldstart.fold_retriever(others, model, model_dir, fold, cfg),
        }
        rows, signals = {}, {}
        for name, retriever in indexes.items():
            engine = engine_for(
                "extractive", cfg, retriever, calibration=Calibration(threshold=0.0)
            )
            rows[name, "others"] = answered_rows(engine, fold.others_test)
            if name == "with":
                rows[name, "doc"] = answered_rows(engine, fold.test + fold.unanswerable)
            # the gate's training questions, answered once: every setting refits on these
            signals[name] = engine.retrieval_signals([r["question"] for r in fold.train + fold.val])
        labels = [bool(r["answerable"]) for r in fold.train + fold.val]
        for variant, overrides in VARIANTS.items():
            c = cfg.generator.confidence.model_copy(update=overrides)
            keep = slice(len(fold.train), None) if c.gate_data == "val" else slice(None)
            gates = {
                name: gate_only(fit_gate(signals[name][keep], labels[keep], features=c.gate_features,
                                         folds=c.gate_folds, resamples=c.gate_resamples,
                                         false_abstention_cost=c.gate_false_abstention_cost,
                                         max_false_abstention=c.gate_max_false_abstention,
                                         budget_quantile=c.gate_budget_quantile,
                                         fixed_threshold=c.gate_threshold, seed=cfg.seed),
                                cfg.generator)
                for name in indexes
            }  # fmt: skip
            held = decide(rows["with", "doc"], gates["with"])
            before = decide(rows["without", "others"], gates["without"])
            after = decide(rows["with", "others"], gates["with"])
            shift = after["n_fa"] / after["n_answerable"] - before["n_fa"] / before["n_answerable"]
            t = totals.setdefault(variant, {"n_fa": 0, "n_answerable": 0, "n_hit": 0, "n_recall": 0,
                                            "n_unanswerable": 0, "shift": 0.0, "folds": []})  # fmt: skip
            for k in ("n_fa", "n_answerable", "n_hit", "n_recall", "n_unanswerable"):
                t[k] += held[k]
            t["shift"] = max(t["shift"], abs(shift))
            t["folds"].append(f"{held['n_hit'] / held['n_answerable']:.3f}/{held['n_fa'] / held['n_answerable']:.3f}"
                              f" @{gates['with'].threshold:.2f}")  # fmt: skip
        print(f"{doc}: done", flush=True)
    print("\n| gate setting | span hit + page | false abstention | abstention recall | largest shift "
          "| per fold (span hit + page / false abstention @ threshold) |\n|---|---|---|---|---|---|")  # fmt: skip
    for variant, t in totals.items():
        print(f"| {variant} | {t['n_hit'] / t['n_answerable']:.3f} | {t['n_fa'] / t['n_answerable']:.3f} "
              f"| {t['n_recall'] / t['n_unanswerable']:.3f} | {t['shift']:.3f} | {'; '.join(t['folds'])} |")  # fmt: skip


if __name__ == "__main__":
    main()
