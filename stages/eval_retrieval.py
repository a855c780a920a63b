"""Stage eval_retrieval: bm25 / base / finetuned / hybrid on the frozen test split (human
questions only) → metrics/retrieval.json, plots/retrieval_<system>.{json,csv}, reports/retrieval.md."""

from __future__ import annotations

import csv
import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.eval_retrieval")
SYSTEMS = ("bm25", "base", "finetuned", "hybrid")


def _report(metrics: dict, ks: list[int], worst: list[dict], deltas: dict) -> str:
    keys = [f"{m}@{k}" for m in ("precision", "recall", "f1", "hit") for k in ks] + [
        "mrr@10",
        "ndcg@10",
    ]
    lines = [
        "# Retrieval evaluation",
        "",
        f"Frozen test split, {metrics['n_queries']} answerable human questions, "
        f"{metrics['n_chunks']} chunks. Relevant = chunks containing the human evidence.",
        "",
        "| system | " + " | ".join(keys) + " |",
        "|---|" + "---|" * len(keys),
    ]
    for system in SYSTEMS:
        lines.append(
            f"| {system} | " + " | ".join(f"{metrics[system][k]:.3f}" for k in keys) + " |"
        )
    lines += ["", "Fine-tuned − base (paired bootstrap, 95% CI):", ""]
    for name, d in deltas.items():
        lines.append(f"- {name}: {d['mean']:+.4f} [{d['ci95_low']:+.4f}, {d['ci95_high']:+.4f}] "
                     f"over {d['n_queries']} questions, {d['resamples']} resamples")  # fmt: skip
    lines += ["", "## 10 worst questions (fine-tuned dense)", ""]
    for i, w in enumerate(worst, 1):
        lines += [
            f"{i}. **{w['question']}** ({w['id']}, {w['source']} p.{w['page']}, reciprocal rank {w['rr']:.2f})",
            f"   - expected evidence: {w['evidence'][:160]}",
            *[
                f"   - retrieved #{r + 1}: {h['source']} p.{h['pages']} — {h['text'][:100]}…"
                for r, h in enumerate(w["hits"])
            ],
        ]
    return "\n".join(lines) + "\n"


def main(cfg: Params) -> None:
    from pdfqa.evaluation import mean_metrics, paired_bootstrap, query_metrics
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import Retriever, encode_passages, encode_queries

    paths, ks = cfg.paths, sorted(cfg.eval_retrieval.ks)
    test = [
        r for r in read_jsonl(paths.qa_split("test")) if r["answerable"] and r["relevant_chunks"]
    ]
    if not test:
        raise PdfqaError(f"no answerable questions in {paths.qa_split('test')}")
    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)
    chunks = retriever.chunks
    ids = [c["chunk_id"] for c in chunks]
    depth = max([*ks, 10])

    base_model = load_sentence_transformer(cfg.retriever.base_model, paths.base_models)
    base_passages = encode_passages(base_model, [c["text"] for c in chunks])
    base_scores = encode_queries(base_model, [r["question"] for r in test]) @ base_passages.T

    rankings: dict[str, list[list[int]]] = {s: [] for s in SYSTEMS}
    for q, record in enumerate(test):
        rankings["bm25"].append([i for i, _ in retriever.ranked(record["question"], depth, "bm25")])
        rankings["base"].append(list(base_scores[q].argsort()[::-1][:depth]))
        rankings["finetuned"].append(
            [i for i, _ in retriever.ranked(record["question"], depth, "dense")]
        )
        rankings["hybrid"].append(
            [i for i, _ in retriever.ranked(record["question"], depth, "hybrid")]
        )

    per_query = {
        s: [query_metrics([ids[i] for i in ranking], set(r["relevant_chunks"]), ks)
            for ranking, r in zip(rankings[s], test, strict=True)]
        for s in SYSTEMS
    }  # fmt: skip
    metrics: dict = {s: mean_metrics(per_query[s]) for s in SYSTEMS}
    metrics.update(n_queries=len(test), n_chunks=len(chunks))
    deltas = {
        name: paired_bootstrap(
            [m[name] for m in per_query["finetuned"]], [m[name] for m in per_query["base"]],
            n=cfg.eval_retrieval.bootstrap, seed=cfg.seed,
        )
        for name in ("recall@5", "mrr@10")
    }  # fmt: skip
    metrics["finetuned_minus_base"] = deltas
    write_json(paths.retrieval_metrics, metrics)

    paths.plots.mkdir(parents=True, exist_ok=True)
    for system in SYSTEMS:
        rows = [{"k": k, "recall": metrics[system][f"recall@{k}"], "precision": metrics[system][f"precision@{k}"],
                 "hit": metrics[system][f"hit@{k}"]} for k in ks]  # fmt: skip
        write_json(paths.plots / f"retrieval_{system}.json", rows)
        with open(paths.plots / f"retrieval_{system}.csv", "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(
                fh, fieldnames=["k", "recall", "precision", "hit"], lineterminator="\n"
            )
            writer.writeheader()
            writer.writerows(rows)

    order = sorted(range(len(test)), key=lambda q: (per_query["finetuned"][q]["mrr@10"],
                                                    per_query["finetuned"][q][f"recall@{ks[-1]}"], test[q]["id"]))  # fmt: skip
    worst = []
    for q in order[:10]:
        record = test[q]
        hits = [{"source": chunks[i]["source"], "pages": f"{chunks[i]['page_start']}-{chunks[i]['page_end']}",
                 "text": chunks[i]["text"].replace("\n", " ")} for i in rankings["finetuned"][q][:3]]  # fmt: skip
        worst.append({**record, "rr": per_query["finetuned"][q]["mrr@10"], "hits": hits})
    paths.retrieval_report.parent.mkdir(parents=True, exist_ok=True)
    paths.retrieval_report.write_text(_report(metrics, ks, worst, deltas), encoding="utf-8")
    for system in SYSTEMS:
        log.info("%-9s recall@5 %.3f  MRR@10 %.3f  nDCG@10 %.3f", system, metrics[system]["recall@5"],
                 metrics[system]["mrr@10"], metrics[system]["ndcg@10"])  # fmt: skip
    for name, d in deltas.items():
        log.info(
            "finetuned - base %s: %+.4f [%+.4f, %+.4f]",
            name,
            d["mean"],
            d["ci95_low"],
            d["ci95_high"],
        )


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("eval_retrieval", main, __doc__))
