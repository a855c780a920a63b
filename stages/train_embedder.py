"""Stage train_embedder: fine-tune the retriever on train QA (+ synthetic) → models/embedder/,
and every chunk's vectors as its val scoring computed them → models/corpus_vectors/."""

from __future__ import annotations

import shutil

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    from pdfqa.jsonio import data_hash, read_jsonl, write_json
    from pdfqa.retrieval import corpus_vectors, train_embedder

    paths, rc = cfg.paths, cfg.retriever
    train_file, val_file = paths.qa_split("train"), paths.qa_split("val")
    require([train_file, val_file, paths.chunks, paths.data_quality_metrics], "dvc repro validate")
    use_synthetic = rc.use_synthetic and paths.synthetic_qa.exists()
    synthetic = list(read_jsonl(paths.synthetic_qa)) if use_synthetic else []

    chunks = list(read_jsonl(paths.chunks))
    trained = train_embedder(
        list(read_jsonl(train_file)), list(read_jsonl(val_file)), chunks,
        synthetic, rc, seed=cfg.seed, wandb=cfg.wandb, base_dir=paths.base_models,
        checkpoints=paths.checkpoints / "embedder",
        launch=cfg.train,
    )  # fmt: skip
    if not trained.is_main_process:  # under torchrun: rank 0 writes the model
        return

    staging = paths.embedder.with_name(paths.embedder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    trained.save(
        staging, data_hash(train_file, paths.synthetic_qa) if synthetic else data_hash(train_file)
    )
    shutil.rmtree(paths.embedder, ignore_errors=True)
    staging.rename(paths.embedder)
    corpus_vectors.save(paths.corpus_vectors, chunks, trained.corpus_vectors, trained.fingerprints,
                        trained.model)  # fmt: skip
    write_json(paths.train_embedder_metrics, trained.metrics())
    shutil.rmtree(paths.checkpoints / "embedder", ignore_errors=True)  # finished: no resume state


if __name__ == "__main__":
    from pdfqa.distributed import relaunch
    from stages._runner import run

    raise SystemExit(run("train_embedder", main, __doc__, relaunch))
