"""A learned fusion on the cold-start folds: does re-scoring the hybrid candidates with a
logistic model over dense, BM25 and question-coverage features rank the held-out PDF's answer
passage higher than the weighted fusion (`index.fusion`) alone? Its variants: re-scoring every
candidate, or re-ordering only hybrid's top ``index.learned_fusion_top`` (what the ``index``
stage serves: ``pdfqa.retrieval.fusion``; this checks that the served path agrees).

    python benchmarks/coldstart_fusion.py [--docs kotex-doc.pdf ...]
    python benchmarks/coldstart_fusion.py --frozen-split   (the pipeline's embedder: val → test)

Needs the fold embedders ``benchmarks/coldstart.py`` trained (models/.coldstart/, same code and
params). Per fold the model is fitted on questions the fold's embedder never trained on — the
other documents' **val** split (their train split and the synthetic pairs trained the embedder,
so its cosine there is inflated) — and optionally also on the held-out PDF's synthetic pairs
(``+ synthetic``: generated, never human; inflated the same way). Its L2 strength comes from a
cross-validation over those questions only. The held-out PDF's human questions are only scored.
Candidates: the union of the dense and BM25 top ``index.candidates``, as hybrid search fuses.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def compare(retriever, val, synthetic, test, top: int) -> dict[str, tuple[list, list]]:
    """Plain hybrid vs the learned fusion fitted on ``val`` (and on ``val`` + ``synthetic``):
    per test question, reciprocal rank (MRR@10) and hit@5, by system. ``retriever`` has no
    fusion model; the served path (``use_fusion_model``) must agree with re-ordering by hand."""
    from pdfqa.retrieval import fusion

    index_of = {c["chunk_id"]: i for i, c in enumerate(retriever.chunks)}
    asked = [r for r in test if r["answerable"] and any(c in index_of for c in r["relevant_chunks"])]  # fmt: skip
    relevant = [{index_of[c] for c in r["relevant_chunks"] if c in index_of} for r in asked]
    candidates = [retriever.fusion_candidates(r["question"]) for r in asked]
    plain = [[i for i, _ in retriever.ranked(r["question"], 10)] for r in asked]
    systems = {"hybrid (plain fusion)": plain}
    for name, train in {"val": val, "val + synthetic": val + synthetic}.items():
        model = fusion.fit(retriever, train, top)
        learned = [
            dict(zip(ids, fusion.scores(model, rows), strict=True)) for ids, rows in candidates
        ]
        systems[f"learned, all candidates ({name})"] = [
            sorted(score, key=lambda d, score=score: (-score[d], d))[:10] for score in learned
        ]
        # the learned score only re-orders hybrid's top ``top``: hit@top stays what hybrid has
        by_hand = [sorted(h[:top], key=lambda d, score=score: (-score[d], d)) + h[top:]
                   for h, score in zip(plain, learned, strict=True)]  # fmt: skip
        retriever.use_fusion_model(model)
        served = [[i for i, _ in retriever.ranked(r["question"], 10)] for r in asked]
        retriever.use_fusion_model(None)
        if served != by_hand:
            raise SystemExit(f"the served fusion ({name}) differs from re-ordering by hand")
        systems[f"hybrid top {top} re-ordered ({name})"] = served

    def reciprocal_rank(ranking, rel):
        return next((1.0 / k for k, d in enumerate(ranking[:10], 1) if d in rel), 0.0)

    return {
        name: (
            [reciprocal_rank(r, rel) for r, rel in zip(rankings, relevant, strict=True)],
            [
                float(any(d in rel for d in r[:5]))
                for r, rel in zip(rankings, relevant, strict=True)
            ],
        )
        for name, rankings in systems.items()
    }


def main() -> None:
    from _folds import add_fold_arguments, setup, trained_folds

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_fold_arguments(parser)
    parser.add_argument("--frozen-split", action="store_true",
                        help="instead of the folds: the pipeline's own embedder (models/embedder), "
                        "fitted on val, scored on the frozen test split")  # fmt: skip
    args = parser.parse_args()
    cfg, chunks, human, docs = setup(args)

    import numpy as np
    from scipy.stats import bootstrap

    from pdfqa.jsonio import read_jsonl
    from pdfqa.models import load_sentence_transformer
    from pdfqa.retrieval import Retriever

    if args.frozen_split:
        split = {s: list(read_jsonl(cfg.paths.qa_split(s))) for s in ("val", "test")}
        runs = [("frozen test split", split["val"], split["test"],
                 list(read_jsonl(cfg.paths.synthetic_qa)), cfg.paths.embedder)]  # fmt: skip
    else:
        runs = ((doc, fold.val, fold.test, [s for s in fold.synthetic if s["source"] == doc], model_dir)
                for doc, fold, model_dir in trained_folds(args, cfg, chunks, human, docs))  # fmt: skip
    settings = cfg.index.model_dump(mode="json")
    pooled: dict[str, list[float]] = {}
    hits: dict[str, list[float]] = {}
    lines = []
    for doc, val, test, synthetic, model_dir in runs:
        if not (Path(model_dir) / "modules.json").exists():
            raise SystemExit(f"{model_dir}: no embedder; run dvc repro / benchmarks/coldstart.py")
        model = load_sentence_transformer(str(model_dir))
        retriever = Retriever.build(chunks, model, str(model_dir), settings, progress=False)
        scored = compare(retriever, val, synthetic, test, cfg.index.learned_fusion_top)
        for name, (rr, h5) in scored.items():
            pooled.setdefault(name, []).extend(rr)
            hits.setdefault(name, []).extend(h5)
            lines.append(f"| {doc} | {len(rr)} | {name} | {np.mean(h5):.3f} | {np.mean(rr):.3f} |")
        print(f"{doc}: done", flush=True)

    print("\n| fold | n | system | hit@5 | MRR@10 |\n|---|---|---|---|---|")
    print("\n".join(lines))
    base = np.array(pooled["hybrid (plain fusion)"])
    for name, rr in pooled.items():
        line = (
            f"| **pooled** | {len(rr)} | {name} | {np.mean(hits[name]):.3f} | {np.mean(rr):.3f} |"
        )
        if name != "hybrid (plain fusion)":
            diff = bootstrap((np.array(rr), base), lambda a, b: np.mean(a - b), paired=True,
                             n_resamples=2000, random_state=cfg.seed).confidence_interval  # fmt: skip
            line += f" Δ MRR {np.mean(rr) - base.mean():+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
        print(line)


if __name__ == "__main__":
    main()
