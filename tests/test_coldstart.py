"""Leave-one-document-out (lifecycle.coldstart, benchmarks/coldstart.py) on the sample corpus
with a toy-scale embedder: no held-out question reaches training, the fold's embedder is cached
by its inputs, and a fold reports retrieval, answers, gate stability and cost."""

from __future__ import annotations

import importlib.util
import json

import pytest
from conftest import ROOT

from pdfqa.jsonio import read_jsonl
from pdfqa.lifecycle import coldstart
from pdfqa.qa import load_human

DOC = "cjk-ko-doc.pdf"


@pytest.fixture(scope="module")
def fold_setup(trained_retriever):
    cfg = trained_retriever
    chunks = list(read_jsonl(cfg.paths.chunks))
    human = load_human(read_jsonl(cfg.paths.human_qa))
    return cfg, chunks, human, coldstart.make_fold(DOC, human, chunks, cfg)


def test_every_sample_pdf_is_a_fold_and_none_of_its_questions_trains(fold_setup):
    _, chunks, human, fold = fold_setup
    assert coldstart.eligible_documents(human, 15) == sorted(
        {"cjk-ko-doc.pdf", "kotex-doc.pdf", "oblivoir-simpledoc.pdf", "pmhanguljamo-kdoc.pdf"}
    )
    held = {r.id for r in human if r.source == DOC}
    assert len(fold.test) >= 15 and fold.unanswerable
    assert {r["id"] for r in fold.test + fold.unanswerable} <= held
    for split in (fold.train, fold.val, fold.others_test):
        assert not held & {r["id"] for r in split}
        assert all(r["source"] != DOC for r in split)
    # D has no questions in the fold, so every page of it gives synthetic pairs
    doc_chunks = {c["chunk_id"] for c in chunks if c["source"] == DOC}
    from_doc = {c for p in fold.synthetic for c in p["relevant_chunks"] if c in doc_chunks}
    test_pages = {r["page"] for r in fold.test}
    covered = {c["page_start"] for c in chunks if c["chunk_id"] in from_doc}
    assert test_pages & covered, "synthetic pairs reach the pages D's questions are about"


@pytest.mark.slow
def test_a_fold_trains_once_then_reuses_and_reports(fold_setup, tmp_path):
    from pdfqa.models import load_sentence_transformer

    cfg, chunks, _, fold = fold_setup
    model_dir, cpu = coldstart.fold_embedder(fold, chunks, cfg, tmp_path)
    assert (model_dir / "modules.json").exists() and cpu > 0
    again, cpu_again = coldstart.fold_embedder(fold, chunks, cfg, tmp_path)
    assert again == model_dir and cpu_again == 0.0
    assert not (tmp_path / ".staging" / model_dir.name).exists()

    base = load_sentence_transformer(cfg.retriever.base_model, cfg.paths.base_models)
    result = coldstart.evaluate_fold(fold, chunks, cfg, model_dir, base)
    rows = result.pop("_per_question")
    assert set(result["retrieval"]) == {"bm25", "base", "finetuned", "hybrid"}
    for m in result["retrieval"].values():
        assert 0 <= m["hit@1"] <= m["hit@5"] <= m["hit@10"] <= 1
    answers = result["answers"]
    assert answers["n_answerable"] == len(fold.test)
    assert answers["n_unanswerable"] == len(fold.unanswerable)
    assert answers["span_hit_cited"] <= min(answers["span_hit"], answers["right_page"])
    low, high = answers["threshold_ci95"]
    assert low <= answers["threshold"] <= high
    assert "false_abstention_shift" in result["gate_stability"]
    assert {r["kind"] for r in rows} == {"retrieval", "answer"}

    spec = importlib.util.spec_from_file_location(
        "coldstart_bench", ROOT / "benchmarks" / "coldstart.py"
    )
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result.update(train_cpu_s=cpu, wall_s=1.0)
    summary = {"folds": [result], "pooled": coldstart.pooled([result], rows)}
    json.dumps(summary)  # what metrics/coldstart.json holds
    report = bench.render(summary, bench.baseline_deltas(rows, rows, 0))
    assert "## Targets (pooled over folds)" in report and DOC in report
    assert "| hybrid hit@5 |" in report and "| false abstention |" in report
