"""Optuna tuning on the sample corpus: fusion (≥ 30 trials) and retriever (≥ 8 trials) on the
VAL split, best vs params.yaml on val, then — once, after the search — on test with a paired
bootstrap CI. Studies go to a temporary directory (the repo's optuna/ is left alone).

    python benchmarks/tuning.py [--fusion-trials 30] [--retriever-trials 8] [--skip-retriever]

Needs a finished `dvc repro` (index, embedder, QA splits). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _test_rankings(retriever, cfg):
    from pdfqa.jsonio import read_jsonl
    from pdfqa.lifecycle.tuning import val_rankings

    test = list(read_jsonl(cfg.paths.qa_split("test")))
    return val_rankings(retriever, test, 100)


def _compare_on_test(default_rows, best_rows, seed: int) -> str:
    from pdfqa.lifecycle.significance import paired_test

    a = [r["objective"] for r in best_rows]
    b = [r["objective"] for r in default_rows]
    ci = paired_test(a, b, resamples=9999, seed=seed)
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)  # noqa: E731
    return (f"test ({len(a)} q): objective {mean(default_rows, 'objective'):.4f} → {mean(best_rows, 'objective'):.4f} "
            f"(Δ {ci['difference']:+.4f}, 95% paired-bootstrap CI [{ci['ci_low']:+.4f}, {ci['ci_high']:+.4f}], "
            f"permutation p = {ci['p_value']:.3f}); "
            f"recall@5 {mean(default_rows, 'recall@5'):.3f} → {mean(best_rows, 'recall@5'):.3f}, "
            f"MRR@10 {mean(default_rows, 'mrr@10'):.3f} → {mean(best_rows, 'mrr@10'):.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fusion-trials", type=int, default=30)
    parser.add_argument("--retriever-trials", type=int, default=8)
    parser.add_argument("--skip-retriever", action="store_true")
    parser.add_argument("--skip-fusion", action="store_true")
    parser.add_argument("--storage-dir", type=Path, default=None,
                        help="resume the studies in this folder (default: a new temporary one)")  # fmt: skip
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    from pdfqa.config import load_params
    from pdfqa.lifecycle import tuning
    from pdfqa.logs import setup
    from pdfqa.retrieval import Retriever

    setup()
    params = load_params()
    tmp = (
        args.storage_dir.parent
        if args.storage_dir
        else Path(tempfile.mkdtemp(prefix="pdfqa-tuning-bench-"))
    )
    cfg = params.model_copy(update={
        "tuning": params.tuning.model_copy(update={"storage_dir": tmp / "optuna", "reports_dir": tmp / "reports"}),
        "wandb": params.wandb.model_copy(update={"mode": "offline", "dir": tmp / "wandb"}),
    })  # fmt: skip
    retriever = Retriever.from_dir(cfg.paths.index, base_dir=cfg.paths.base_models)
    test = _test_rankings(retriever, cfg)
    lines = []

    default_index = cfg.index.model_dump(mode="json")
    start = time.perf_counter()
    fusion = tuning.tune(cfg, "fusion", n_trials=0 if args.skip_fusion else args.fusion_trials)
    fusion_s = time.perf_counter() - start
    best_index = tuning.apply(cfg, fusion.best_params).index.model_dump(mode="json")
    lines += [
        f"## fusion: {fusion.n_complete} trials in {fusion_s:.0f} s",
        f"val objective (recall@5 + MRR@10)/2: params.yaml {fusion.default_value:.4f} → best {fusion.best_value:.4f}",
        f"best: {fusion.command}",
        _compare_on_test(tuning.hybrid_per_query(test, default_index), tuning.hybrid_per_query(test, best_index), cfg.seed),
    ]  # fmt: skip

    if not args.skip_retriever:
        from pdfqa.jsonio import read_jsonl
        from pdfqa.retrieval.train import train_embedder

        start = time.perf_counter()
        result = tuning.tune(cfg, "retriever", n_trials=args.retriever_trials)
        search_s = time.perf_counter() - start
        lines += [
            f"## retriever: {result.n_complete} complete + {result.n_pruned} pruned trials in {search_s / 60:.1f} min",
            f"val objective: params.yaml {result.default_value:.4f} → best {result.best_value:.4f}",
            f"best: {result.command}",
        ]  # fmt: skip
        if result.best_params and result.best_value > (result.default_value or 0):
            best_cfg = tuning.apply(cfg, result.best_params)
            train, val = (list(read_jsonl(cfg.paths.qa_split(s))) for s in ("train", "val"))
            chunks = list(read_jsonl(cfg.paths.chunks))
            synthetic = (
                list(read_jsonl(cfg.paths.synthetic_qa)) if cfg.retriever.use_synthetic else []
            )
            trained = train_embedder(train, val, chunks, synthetic, best_cfg.retriever, seed=cfg.seed,
                                     wandb=cfg.wandb, base_dir=cfg.paths.base_models,
                                     checkpoints=tmp / "best-ckpt", run_name="tune-best")  # fmt: skip
            best_retriever = Retriever.build(
                chunks, trained.model, "best", default_index, progress=False
            )
            lines.append(_compare_on_test(tuning.hybrid_per_query(test, default_index),
                                          tuning.hybrid_per_query(_test_rankings(best_retriever, cfg), default_index),
                                          cfg.seed))  # fmt: skip
        else:
            lines.append(
                "test: not evaluated (the search found nothing better than params.yaml on val)"
            )
    print("\n".join(lines))
    print(f"(studies and reports in {tmp})")


if __name__ == "__main__":
    main()
