"""Hybrid fusion settings swept on the VAL split (never test): recall@5 and MRR@10 of weighted
score fusion and weighted RRF for several dense weights, with dense and BM25 alone for reference.
The defaults in params.yaml (index.fusion, index.dense_weight) were chosen from this output.

    python benchmarks/fusion_sweep.py [--index models/index] [--split val]
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever, rrf, weighted_fusion
    from pdfqa.retrieval.metrics import mean_metrics, query_metrics

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=ROOT / "models" / "index")
    parser.add_argument("--split", default="val")
    args = parser.parse_args()
    retriever = Retriever.from_dir(args.index, base_dir=ROOT / "models" / "base")
    ids = [c["chunk_id"] for c in retriever.chunks]
    records = [
        r for r in read_jsonl(ROOT / "data" / "qa" / f"{args.split}.jsonl") if r["relevant_chunks"]
    ]
    dense = [retriever.dense_search(r["question"], 50) for r in records]
    sparse = [retriever.bm25.search(r["question"], 50) for r in records]

    def score(rankings) -> str:
        m = mean_metrics([query_metrics([ids[i] for i, _ in ranking[:10]], set(r["relevant_chunks"]), [5])
                          for ranking, r in zip(rankings, records, strict=True)])  # fmt: skip
        return f"recall@5 {m['recall@5']:.3f}  MRR@10 {m['mrr@10']:.3f}"

    print(f"{args.split} split, {len(records)} questions")
    print(f"dense only            {score(dense)}")
    print(f"bm25 only             {score(sparse)}")
    for w in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7):
        weighted = [weighted_fusion([d, s], [w, 1 - w]) for d, s in zip(dense, sparse, strict=True)]
        fused = [
            rrf([[i for i, _ in d], [i for i, _ in s]], 60, [w, 1 - w])
            for d, s in zip(dense, sparse, strict=True)
        ]
        print(f"dense weight {w:.1f}: weighted {score(weighted)} | rrf {score(fused)}")


if __name__ == "__main__":
    main()
