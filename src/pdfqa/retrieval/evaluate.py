"""Retrieval evaluation on the frozen test split (human questions): stage ``eval_retrieval``.

Four systems rank every chunk for every answerable test question: ``bm25`` (Korean BM25),
``base`` (the untuned embedder), ``finetuned`` (the fine-tuned embedder in the index) and
``hybrid`` (the index's fusion). Per-question metrics are kept (the A/B test pairs them across
revisions), averaged into the summary, and fine-tuned − base gets paired-bootstrap CIs.
"""

from __future__ import annotations

from dataclasses import dataclass

from pdfqa.retrieval.metrics import mean_metrics, query_metrics
from pdfqa.stats import paired_bootstrap

SYSTEMS = ("bm25", "base", "finetuned", "hybrid")
DELTA_METRICS = ("recall@5", "mrr@10")


@dataclass
class RetrievalEvaluation:
    metrics: dict  # per system means + n_queries, n_chunks, finetuned_minus_base
    per_question: list[dict]  # one row per (system, question), sorted
    curves: dict[str, list[dict]]  # system → recall/precision/hit at every k (DVC plots)
    report: str  # reports/retrieval.md


def evaluate_retrieval(
    test: list[dict], retriever, base_model, ks: list[int], bootstrap: int, seed: int,
    base_passages=None,
) -> RetrievalEvaluation:  # fmt: skip
    """``test``: answerable records with relevant chunks; ``base_model``: the untuned embedder;
    ``base_passages``: its vectors of the retriever's chunks when already computed."""
    from pdfqa.retrieval.index import encode_passages, encode_queries

    ks = sorted(ks)
    chunks = retriever.chunks
    ids = [c["chunk_id"] for c in chunks]
    depth = max([*ks, 10])

    if base_passages is None:  # else: the base model's vectors of these chunks, already computed
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
            n=bootstrap, seed=seed,
        )
        for name in DELTA_METRICS
    }  # fmt: skip
    metrics["finetuned_minus_base"] = deltas

    curves = {
        system: [{"k": k, "recall": metrics[system][f"recall@{k}"], "precision": metrics[system][f"precision@{k}"],
                  "hit": metrics[system][f"hit@{k}"]} for k in ks]
        for system in SYSTEMS
    }  # fmt: skip
    rows = [
        {"id": r["id"], "system": s, "source": r["source"], "page": r["page"],
         "retrieved": [ids[i] for i in rankings[s][q][:5]], **{k: round(v, 4) for k, v in per_query[s][q].items()}}
        for s in SYSTEMS for q, r in enumerate(test)
    ]  # fmt: skip
    rows.sort(key=lambda row: (row["system"], row["id"]))

    order = sorted(range(len(test)), key=lambda q: (per_query["finetuned"][q]["mrr@10"],
                                                    per_query["finetuned"][q][f"recall@{ks[-1]}"], test[q]["id"]))  # fmt: skip
    worst = []
    for q in order[:10]:
        record = test[q]
        hits = [{"source": chunks[i]["source"], "pages": f"{chunks[i]['page_start']}-{chunks[i]['page_end']}",
                 "text": chunks[i]["text"].replace("\n", " ")} for i in rankings["finetuned"][q][:3]]  # fmt: skip
        worst.append({**record, "rr": per_query["finetuned"][q]["mrr@10"], "hits": hits})
    return RetrievalEvaluation(metrics, rows, curves, render_report(metrics, ks, worst, deltas))


def render_report(metrics: dict, ks: list[int], worst: list[dict], deltas: dict) -> str:
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
