"""Stage eval_retrieval: bm25 / base / finetuned / hybrid on the frozen test split (human
questions only) → metrics/retrieval.json, metrics/per_question/retrieval.jsonl,
plots/retrieval_<system>.{json,csv}, reports/retrieval.md."""

from __future__ import annotations

import csv
import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.eval_retrieval")


def main(cfg: Params) -> None:
    from pdfqa.jsonio import read_jsonl, write_json, write_jsonl
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import Retriever, corpus_vectors, evaluate_retrieval

    paths = cfg.paths
    test = [
        r for r in read_jsonl(paths.qa_split("test")) if r["answerable"] and r["relevant_chunks"]
    ]
    if not test:
        raise PdfqaError(f"no answerable questions in {paths.qa_split('test')}")
    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)
    base_model = load_sentence_transformer(cfg.retriever.base_model, paths.base_models)

    base_passages = corpus_vectors.load(paths.corpus_vectors, retriever.chunks, "base", base_model)
    result = evaluate_retrieval(test, retriever, base_model, cfg.eval_retrieval.ks,
                                cfg.eval_retrieval.bootstrap, cfg.seed, base_passages)  # fmt: skip

    write_json(paths.retrieval_metrics, result.metrics)
    write_jsonl(paths.per_question_retrieval, result.per_question)
    paths.plots.mkdir(parents=True, exist_ok=True)
    for system, rows in result.curves.items():
        write_json(paths.plots / f"retrieval_{system}.json", rows)
        with open(paths.plots / f"retrieval_{system}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=["k", "recall", "precision", "hit"], lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows(rows)
    paths.retrieval_report.parent.mkdir(parents=True, exist_ok=True)
    paths.retrieval_report.write_text(result.report, encoding="utf-8")
    for system in result.curves:
        m = result.metrics[system]
        log.info("%-9s recall@5 %.3f  MRR@10 %.3f  nDCG@10 %.3f", system, m["recall@5"],
                 m["mrr@10"], m["ndcg@10"])  # fmt: skip
    for name, d in result.metrics["finetuned_minus_base"].items():
        log.info("finetuned - base %s: %+.4f [%+.4f, %+.4f]", name, d["mean"], d["ci95_low"],
                 d["ci95_high"])  # fmt: skip


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("eval_retrieval", main, __doc__))
