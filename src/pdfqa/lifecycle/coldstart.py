"""Cold-start evaluation: how well a document nobody wrote questions for is answered.

The frozen test split mixes pages of documents whose other pages trained the models, so it
cannot say that. Leave-one-document-out can: for each bundled PDF D with enough human questions,
everything is trained as ``dvc repro`` would with D in the corpus but **none of D's human
questions** — D contributes only what the pipeline generates for it (synthetic pairs) — and D's
human questions are the test set. Reused across folds: ingest and chunks (they do not depend on
any question). Per fold: the QA splits of the other documents, synthetic pairs, the fine-tuned
embedder, the index and its learned fusion, the abstention gate, fitted on the other documents'
questions.

The served answer system is the extractive one (the bundle's choice on val; the LoRA generator
is not retrained per fold: ~10 CPU minutes each and not what is served). A second measurement
per fold checks the gate's stability: with the same embedder, the gate is fitted once on an index
without D and once with D, and false abstention on the *other* documents' test questions is
compared — one added PDF should barely move it.

``benchmarks/coldstart.py`` runs it (too slow for the default ``dvc repro``: one embedder
fine-tuning per fold) and writes ``reports/coldstart.md`` + ``metrics/coldstart.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pdfqa.coldstart")
RETRIEVAL_SYSTEMS = ("bm25", "base", "finetuned", "hybrid")
RETRIEVAL_METRICS = ("hit@1", "hit@5", "hit@10", "mrr@10")
ANSWER_METRICS = ("span_hit", "right_page", "span_hit_cited", "false_abstention",
                  "abstention_recall")  # fmt: skip


@dataclass
class Fold:
    doc: str
    train: list[dict]  # the other documents' human train split (as the qa stage builds it)
    val: list[dict]
    others_test: list[dict]  # the other documents' test split: gate stability is measured on it
    test: list[dict]  # D's answerable human questions (every split), resolved against chunks
    unanswerable: list[dict]  # unanswerable human questions aimed at D
    synthetic: list[dict]  # what synth_qa generates with D in the corpus and no D questions


def eligible_documents(human, min_answerable: int) -> list[str]:
    counts: dict[str, int] = {}
    for record in human:
        if record.source and record.answerable:
            counts[record.source] = counts.get(record.source, 0) + 1
    return sorted(doc for doc, n in counts.items() if n >= min_answerable)


def make_fold(doc: str, human, chunks: list[dict], cfg) -> Fold:
    """The QA data a user would have if D had arrived with no questions."""
    from pdfqa.qa import SPLITS, build_qa_sets, synthesize

    resolved = build_qa_sets(human, chunks, cfg.qa, cfg.seed)  # D's questions, anchored
    held = sorted((r for s in SPLITS for r in resolved.splits[s] if r["source"] == doc),
                  key=lambda r: r["id"])  # fmt: skip
    sets = build_qa_sets([h for h in human if h.source != doc], chunks, cfg.qa, cfg.seed)
    synthetic = synthesize(
        chunks, sets.page_splits["pages"], cfg.synth_qa, splitter=cfg.chunk.splitter,
        generator_model=cfg.generator.base_model, base_dir=cfg.paths.base_models, seed=cfg.seed,
    )  # fmt: skip
    return Fold(
        doc=doc, train=sets.splits["train"], val=sets.splits["val"],
        others_test=sets.splits["test"],
        test=[r for r in held if r["answerable"] and r["relevant_chunks"]],
        unanswerable=[r for r in held if not r["answerable"]], synthetic=synthetic,
    )  # fmt: skip


def _fold_key(fold: Fold, chunks: list[dict], cfg) -> str:
    """Everything the fold's embedder depends on: a cached one is reused only if all match."""
    payload = json.dumps(
        {"train": fold.train, "val": fold.val, "synthetic": fold.synthetic,
         "chunks": [c["chunk_id"] + c["text"] for c in chunks], "seed": cfg.seed,
         "retriever": cfg.retriever.model_dump(mode="json")},
        sort_keys=True, ensure_ascii=False,
    )  # fmt: skip
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def fold_embedder(fold: Fold, chunks: list[dict], cfg, cache_dir: Path) -> tuple[Path, float]:
    """The fold's fine-tuned embedder (trained, or reused from ``cache_dir`` when its inputs
    match) and the CPU seconds spent training it now (0 when reused)."""
    from pdfqa.retrieval import train_embedder

    key = _fold_key(fold, chunks, cfg)
    target = cache_dir / Path(fold.doc).stem / key
    if (target / "modules.json").exists():
        log.info("%s: reusing the fold's embedder %s", fold.doc, target)
        return target, 0.0
    start = time.process_time()
    trained = train_embedder(
        fold.train, fold.val, chunks, fold.synthetic if cfg.retriever.use_synthetic else [],
        cfg.retriever, seed=cfg.seed, wandb=cfg.wandb.model_copy(update={"mode": "disabled"}),
        base_dir=cfg.paths.base_models, checkpoints=cache_dir / ".checkpoints" / key,
        run_name=f"coldstart-{Path(fold.doc).stem}",
    )  # fmt: skip
    staging = cache_dir / ".staging" / key
    shutil.rmtree(staging, ignore_errors=True)
    trained.save(staging, key)
    shutil.rmtree(target.parent, ignore_errors=True)  # older keys of this fold
    target.parent.mkdir(parents=True, exist_ok=True)
    staging.rename(target)
    shutil.rmtree(cache_dir / ".checkpoints" / key, ignore_errors=True)
    return target, time.process_time() - start


def _cited_page_ok(answer, record: dict) -> bool:
    """A citation names a retrieved passage whose pages hold the question's evidence page."""
    for source, page in answer.citations:
        for hit in answer.contexts:
            if ((hit.source, hit.page_start) == (source, page) and hit.source == record["source"]
                    and hit.page_start <= record["page"] <= hit.page_end):  # fmt: skip
                return True
    return False


def answer_rows(engine, records: list[dict]) -> list[dict]:
    """Per question: span hit, right-page citation, abstained."""
    from pdfqa.generation.metrics import answer_span, span_hit

    rows = []
    for record, answer in zip(records, engine.answer_batch([r["question"] for r in records]),
                              strict=True):  # fmt: skip
        row = {
            "id": record["id"],
            "answerable": record["answerable"],
            "abstained": answer.abstained,
        }
        if record["answerable"]:
            hit = (not answer.abstained) and bool(
                span_hit(answer.text, answer_span(record["answer"], record.get("evidence", "")))
            )
            page = (not answer.abstained) and _cited_page_ok(answer, record)
            row.update(
                span_hit=float(hit), right_page=float(page), span_hit_cited=float(hit and page)
            )
        rows.append(row)
    return rows


def answer_summary(rows: list[dict]) -> dict:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]

    def mean(values) -> float | None:
        values = list(values)
        return round(sum(values) / len(values), 4) if values else None

    return {
        "span_hit": mean(r["span_hit"] for r in answerable),
        "right_page": mean(r["right_page"] for r in answerable),
        "span_hit_cited": mean(r["span_hit_cited"] for r in answerable),
        "false_abstention": mean(float(r["abstained"]) for r in answerable),
        "abstention_recall": mean(float(r["abstained"]) for r in unanswerable),
        "n_answerable": len(answerable), "n_unanswerable": len(unanswerable),
    }  # fmt: skip


def fitted_engine(retriever, fold: Fold, cfg):
    """The served (extractive) engine, its gate and confidence fitted on the other documents'
    questions exactly as eval_generation fits them."""
    from pdfqa.generation.engine import engine_for
    from pdfqa.generation.evaluate import calibrate, fit_shared_gate, gate_only, gate_records

    gate = fit_shared_gate(gate_records(fold.train, fold.val, cfg), retriever, cfg)
    engine = engine_for("extractive", cfg, retriever, calibration=gate_only(gate, cfg.generator))
    raw = engine.answer_batch([r["question"] for r in fold.val])
    engine.calibration = calibrate(fold.val, raw, cfg.generator, gate)
    return engine


def fold_retriever(chunks: list[dict], model, model_dir: Path, fold: Fold, cfg):
    """The index the ``index`` stage would build for the fold: its learned fusion is fitted on
    the other documents' val questions (none of D's)."""
    from pdfqa.retrieval import Retriever
    from pdfqa.retrieval.fusion import fit

    settings = cfg.index.model_dump(mode="json")
    retriever = Retriever.build(chunks, model, str(model_dir), settings, progress=False)
    if cfg.index.learned_fusion:
        retriever.use_fusion_model(fit(retriever, fold.val, cfg.index.learned_fusion_top))
    return retriever


def evaluate_fold(fold: Fold, chunks: list[dict], cfg, model_dir: Path, base_model) -> dict:
    """Retrieval (bm25 / base / finetuned / hybrid) and the served answers on D's questions,
    plus the gate-stability check on the other documents' test questions."""
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import evaluate_retrieval

    start = time.process_time()
    model = load_sentence_transformer(str(model_dir))
    retriever = fold_retriever(chunks, model, model_dir, fold, cfg)
    ks = sorted({*cfg.eval_retrieval.ks, 1, 5, 10})
    retrieval = evaluate_retrieval(fold.test, retriever, base_model, ks, 200, cfg.seed)
    per_question = [{"fold": fold.doc, "kind": "retrieval", "system": row["system"], "id": row["id"],
                     **{m: row[m] for m in RETRIEVAL_METRICS}}
                    for row in retrieval.per_question]  # fmt: skip

    engine = fitted_engine(retriever, fold, cfg)
    rows = answer_rows(engine, fold.test + fold.unanswerable)
    per_question += [{"fold": fold.doc, "kind": "answer", **row} for row in rows]
    answers = answer_summary(rows)
    answers["threshold"] = round(engine.calibration.threshold, 4)
    answers["threshold_ci95"] = [round(x, 4) for x in engine.calibration.threshold_ci]

    # gate stability: the same embedder, the corpus without D vs with D
    others = fold.others_test
    without = fold_retriever([c for c in chunks if c["source"] != fold.doc], model, model_dir,
                             fold, cfg)  # fmt: skip
    before = answer_summary(answer_rows(fitted_engine(without, fold, cfg), others))
    after = answer_summary(answer_rows(engine, others))
    stability = {
        "n_other_test": len(others),
        "false_abstention_without_doc": before["false_abstention"],
        "false_abstention_with_doc": after["false_abstention"],
        "abstention_recall_without_doc": before["abstention_recall"],
        "abstention_recall_with_doc": after["abstention_recall"],
    }
    if before["false_abstention"] is not None and after["false_abstention"] is not None:
        stability["false_abstention_shift"] = round(
            after["false_abstention"] - before["false_abstention"], 4
        )
    return {
        "doc": fold.doc,
        "n_test": len(fold.test),
        "n_unanswerable": len(fold.unanswerable),
        "n_train": len(fold.train),
        "n_val": len(fold.val),
        "n_synthetic": len(fold.synthetic),
        "retrieval": {
            s: {m: retrieval.metrics[s][m] for m in RETRIEVAL_METRICS} for s in RETRIEVAL_SYSTEMS
        },
        "answers": answers,
        "gate_stability": stability,
        "eval_cpu_s": round(time.process_time() - start, 1),
        "_per_question": per_question,
    }


def pooled(folds: list[dict], per_question: list[dict]) -> dict:
    """Means over every held-out question of every fold (a fold with more questions weighs more)."""
    out: dict = {"retrieval": {}, "answers": {}}
    for system in RETRIEVAL_SYSTEMS:
        rows = [r for r in per_question if r["kind"] == "retrieval" and r["system"] == system]
        out["retrieval"][system] = {m: round(sum(r[m] for r in rows) / len(rows), 4)
                                    for m in RETRIEVAL_METRICS}  # fmt: skip
    out["answers"] = answer_summary([r for r in per_question if r["kind"] == "answer"])
    shifts = [abs(f["gate_stability"].get("false_abstention_shift", 0.0)) for f in folds]
    out["max_false_abstention_shift"] = round(max(shifts), 4) if shifts else None
    out["n_test"] = sum(f["n_test"] for f in folds)
    out["n_unanswerable"] = sum(f["n_unanswerable"] for f in folds)
    return out
