"""A learned fusion on the cold-start folds: does re-scoring the hybrid candidates with a
logistic model over dense, BM25 and question-coverage features rank the held-out PDF's answer
passage higher than the weighted fusion `index.fusion` serves?

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
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FEATURES = ("dense", "dense_norm", "bm25_norm", "dense_rrf", "bm25_rrf", "coverage")


def candidate_features(retriever, question: str, depth: int, idf) -> tuple[list[int], list[list[float]]]:  # fmt: skip
    """Each candidate chunk of a question and its features (a chunk missing from one ranking
    gets that ranking's floor: 0 normalised, no reciprocal rank)."""
    from pdfqa.generation.confidence import question_coverage

    dense = retriever.ranked(question, depth, "dense")
    sparse = retriever.ranked(question, depth, "bm25")

    def normalised(result):
        values = [s for _, s in result]
        low, high = (min(values), max(values)) if values else (0.0, 0.0)
        return {d: (1.0 if high == low else (s - low) / (high - low)) for d, s in result}

    dn, sn = normalised(dense), normalised(sparse)
    draw = dict(dense)
    drank = {d: r for r, (d, _) in enumerate(dense, 1)}
    srank = {d: r for r, (d, _) in enumerate(sparse, 1)}
    floor = min(draw.values()) if draw else 0.0
    ids = sorted(set(dn) | set(sn))
    rows = [
        [draw.get(d, floor), dn.get(d, 0.0), sn.get(d, 0.0),
         60.0 / (60 + drank[d]) if d in drank else 0.0,
         60.0 / (60 + srank[d]) if d in srank else 0.0,
         question_coverage(question, [retriever.chunks[d]["text"]], idf)]
        for d in ids
    ]  # fmt: skip
    return ids, rows


def featurise(retriever, records: list[dict], index_of: dict[str, int], depth: int) -> list:
    """(candidate ids, feature rows, relevant ids) of each record with a known answer passage."""
    import numpy as np

    out = []
    for r in records:
        relevant = {index_of[c] for c in r["relevant_chunks"] if c in index_of}
        if relevant:
            ids, rows = candidate_features(retriever, r["question"], depth, retriever.bm25.idf)
            out.append((ids, np.array(rows), relevant))
    return out


def reciprocal_rank(ranking: list[int], relevant: set[int]) -> float:
    return next((1.0 / r for r, d in enumerate(ranking[:10], 1) if d in relevant), 0.0)


def compare(retriever, val, synthetic, test, index_of, depth) -> dict[str, tuple[list, list]]:
    """Served hybrid vs the learned fusion fitted on ``val`` (and on ``val`` + ``synthetic``):
    per test question, reciprocal rank (MRR@10) and hit@5, by system."""
    import numpy as np
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.preprocessing import StandardScaler

    answerable_val = [r for r in val if r["answerable"] and r["relevant_chunks"]]
    train_sets = {"val": featurise(retriever, answerable_val, index_of, depth)}
    train_sets["val + synthetic"] = train_sets["val"] + featurise(
        retriever, synthetic, index_of, depth
    )
    asked = [r for r in test if r["answerable"] and any(c in index_of for c in r["relevant_chunks"])]  # fmt: skip
    features = featurise(retriever, asked, index_of, depth)
    systems = {"hybrid (served)": [[i for i, _ in retriever.ranked(r["question"], 10)]
                                   for r in asked]}  # fmt: skip
    for name, train in train_sets.items():
        x = np.vstack([rows for _, rows, _ in train])
        y = np.concatenate([[d in rel for d in ids] for ids, _, rel in train])
        scaler = StandardScaler().fit(x)
        clf = LogisticRegressionCV(Cs=[0.01, 0.1, 1.0, 10.0], cv=5, max_iter=2000,
                                   scoring="neg_log_loss", use_legacy_attributes=False)  # fmt: skip
        clf.fit(scaler.transform(x), y)
        learned = [
            dict(zip(ids, clf.decision_function(scaler.transform(rows)), strict=True))
            for ids, rows, _ in features
        ]
        systems[f"learned ({name})"] = [
            sorted(score, key=lambda d, score=score: (-score[d], d))[:10] for score in learned
        ]
        # the learned score only re-orders hybrid's top 5: hit@5 stays what hybrid has
        systems[f"hybrid top 5 re-ranked ({name})"] = [
            sorted(h[:5], key=lambda d, score=score: (-score[d], d)) + h[5:]
            for h, score in zip(systems["hybrid (served)"], learned, strict=True)
        ]
    relevant = [rel for _, _, rel in features]
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
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", nargs="*")
    parser.add_argument("--cache-dir", type=Path, default=Path("models/.coldstart"))
    parser.add_argument("--min-answerable", type=int, default=15)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--frozen-split", action="store_true",
                        help="instead of the folds: the pipeline's own embedder (models/embedder), "
                        "fitted on val, scored on the frozen test split")  # fmt: skip
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    from scipy.stats import bootstrap

    from pdfqa.config import load_params
    from pdfqa.jsonio import read_jsonl
    from pdfqa.lifecycle import coldstart
    from pdfqa.logs import setup
    from pdfqa.models import load_sentence_transformer
    from pdfqa.qa import load_human
    from pdfqa.retrieval import Retriever

    setup()
    cfg = load_params(args.params)
    chunks = list(read_jsonl(cfg.paths.chunks))
    index_of = {c["chunk_id"]: i for i, c in enumerate(chunks)}
    human = load_human(read_jsonl(cfg.paths.human_qa))
    docs = args.docs or coldstart.eligible_documents(human, args.min_answerable)
    if args.frozen_split:
        docs = ["frozen test split"]
    settings = cfg.index.model_dump(mode="json")
    depth = int(settings.get("candidates", 50))
    pooled: dict[str, list[float]] = {}
    hits: dict[str, list[float]] = {}
    lines = []
    for doc in docs:
        if args.frozen_split:
            model_dir = cfg.paths.embedder
            split = {s: list(read_jsonl(cfg.paths.qa_split(s))) for s in ("val", "test")}
            val, test = split["val"], split["test"]
            synthetic = list(read_jsonl(cfg.paths.synthetic_qa))
        else:
            fold = coldstart.make_fold(doc, human, chunks, cfg)
            model_dir = args.cache_dir / Path(doc).stem / coldstart._fold_key(fold, chunks, cfg)
            val, test = fold.val, fold.test
            synthetic = [s for s in fold.synthetic if s["source"] == doc]
        if not (Path(model_dir) / "modules.json").exists():
            raise SystemExit(f"{model_dir}: no embedder; run dvc repro / benchmarks/coldstart.py")
        model = load_sentence_transformer(str(model_dir))
        retriever = Retriever.build(chunks, model, str(model_dir), settings, progress=False)
        scored = compare(retriever, val, synthetic, test, index_of, depth)
        for name, (rr, h5) in scored.items():
            pooled.setdefault(name, []).extend(rr)
            hits.setdefault(name, []).extend(h5)
            lines.append(f"| {doc} | {len(rr)} | {name} | {np.mean(h5):.3f} | {np.mean(rr):.3f} |")
        print(f"{doc}: done", flush=True)

    print("\n| fold | n | system | hit@5 | MRR@10 |\n|---|---|---|---|---|")
    print("\n".join(lines))
    base = np.array(pooled["hybrid (served)"])
    for name, rr in pooled.items():
        line = (
            f"| **pooled** | {len(rr)} | {name} | {np.mean(hits[name]):.3f} | {np.mean(rr):.3f} |"
        )
        if name != "hybrid (served)":
            diff = bootstrap((np.array(rr), base), lambda a, b: np.mean(a - b), paired=True,
                             n_resamples=2000, random_state=cfg.seed).confidence_interval  # fmt: skip
            line += f" Δ MRR {np.mean(rr) - base.mean():+.3f} [{diff.low:+.3f}, {diff.high:+.3f}]"
        print(line)


if __name__ == "__main__":
    main()
