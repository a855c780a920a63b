"""Stage train_generator: LoRA/QLoRA-adapt the answer generator on retrieved contexts →
models/generator_adapter/ (peft adapter + tokenizer + model card).

Multi-GPU: `accelerate launch -m stages.train_generator` or
`torchrun --nproc_per_node N -m stages.train_generator` (the Trainer shards batches; only rank 0
writes the adapter)."""

from __future__ import annotations

import shutil

from pdfqa.config import Params
from stages._runner import require


def main(cfg: Params) -> None:
    from pdfqa.generation import train_generator
    from pdfqa.jsonio import data_hash, read_jsonl, write_json

    paths = cfg.paths
    train_file, val_file = paths.qa_split("train"), paths.qa_split("val")
    require([train_file, val_file, paths.chunks, paths.index / "manifest.json"], "dvc repro index")
    checkpoints = paths.checkpoints / "generator"

    trained = train_generator(
        list(read_jsonl(train_file)), list(read_jsonl(val_file)),
        {c["chunk_id"]: c["text"] for c in read_jsonl(paths.chunks)}, cfg.generator,
        seed=cfg.seed, wandb=cfg.wandb, index_dir=paths.index, base_dir=paths.base_models,
        checkpoints=checkpoints,
        launch=cfg.train,
    )  # fmt: skip
    if not trained.is_main_process:
        return

    out = paths.generator_adapter
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    trained.save(staging, data_hash(train_file), adapter_dir=out)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    write_json(paths.train_generator_metrics, trained.metrics())
    shutil.rmtree(checkpoints, ignore_errors=True)  # finished: resume state no longer needed


if __name__ == "__main__":
    from pdfqa.distributed import relaunch
    from stages._runner import run

    raise SystemExit(run("train_generator", main, __doc__, relaunch))
