"""A served bundle for the app tests: the real `bundle` stage over a tiny embedder's index of
three sample PDFs (the fourth is left out so a test can upload it), a calibration that makes the
extractive system answer when the question's words are in a passage and abstain otherwise, and
the real base Gemma as the second arm of Compare."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import ROOT, SAMPLE_PDFS

HELD_OUT = "pmhanguljamo-kdoc.pdf"  # not in the index: uploaded by a test


def build_app_params(sample_run, tmp: Path):
    from models_cache import builtin_dir, cache_dir
    from sentence_transformers import SentenceTransformer
    from tiny_models import build_tiny_embedder

    import stages.bundle
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval import Retriever

    builtin_dir("gemma-3-270m")
    builtin_dir("multilingual-e5-small")
    pdfs = tmp / "pdfs"
    pdfs.mkdir()
    for pdf in SAMPLE_PDFS.glob("*.pdf"):
        if pdf.name != HELD_OUT:
            shutil.copy(pdf, pdfs / pdf.name)
    embedder = build_tiny_embedder(tmp / "tiny")
    models, metrics = tmp / "models", tmp / "metrics"
    metrics.mkdir()
    gen = sample_run.generator
    paths = sample_run.paths.model_copy(update={
        "pdfs": pdfs, "embedder": embedder, "index": models / "index", "bundle": models / "bundle",
        "corpus_vectors": models / "corpus_vectors",
        "calibration": models / "calibration.json", "generator_adapter": models / "no-adapter",
        "generation_metrics": metrics / "generation.json", "retrieval_metrics": metrics / "retrieval.json",
        "bundle_summary": metrics / "bundle.json", "base_models": cache_dir(), "app_dir": tmp / "app",
        "feedback": tmp / "feedback" / "feedback.jsonl", "feedback_reviews": tmp / "feedback" / "reviews.jsonl",
        "uploads": tmp / "feedback" / "uploads.jsonl",
        "registry_cache": tmp / "registry"})  # fmt: skip
    cfg = sample_run.model_copy(update={
        "paths": paths,
        "generator": gen.model_copy(update={"max_new_tokens": 12}),
        "serve": sample_run.serve.model_copy(update={"monitor_every_s": 1.0, "max_file_mb": 5}),
        "wandb": sample_run.wandb.model_copy(update={"mode": "disabled"}),
    })  # fmt: skip
    chunks = [c for c in read_jsonl(sample_run.paths.chunks) if c["source"] != HELD_OUT]
    model = SentenceTransformer(str(embedder), device="cpu")
    Retriever.build(chunks, model, str(embedder), cfg.index.model_dump(mode="json"),
                    progress=False).save(paths.index)  # fmt: skip
    paths.calibration.write_text(
        json.dumps({"extractive": {"threshold": 0.5, "retrieval_weight": 0.0}})
    )
    summary = {"answerable_accuracy": 0.5, "overall_system_score": 0.5}
    paths.generation_metrics.write_text(json.dumps({
        "systems": {"extractive": summary, "base": {**summary, "overall_system_score": 0.1}},
        "val": {"extractive": {"overall_system_score": 0.5}, "base": {"overall_system_score": 0.1}},
        "n_test": 0}))  # fmt: skip
    paths.retrieval_metrics.write_text(json.dumps({"hybrid": {"recall@5": 0.9, "mrr@10": 0.8}}))
    stages.bundle.main(cfg)
    assert (paths.bundle / "manifest.json").exists()
    return cfg


def held_out_part(pages: list[int]) -> bytes:
    from conftest import pdf_pages

    return pdf_pages(ROOT / "data" / "pdfs" / HELD_OUT, pages)
