"""Stage train_embedder: fine-tune the retriever on train QA (+ synthetic) → models/embedder/."""

from __future__ import annotations

import logging
import shutil
import time

from pdfqa.config import Params
from pdfqa.errors import PdfqaError
from stages._runner import latest_checkpoint

log = logging.getLogger("pdfqa.train_embedder")


def main(cfg: Params) -> None:
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from pdfqa import tracking
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.models import load_sentence_transformer, resolve
    from pdfqa.training import (
        build_dataset,
        data_hash,
        freeze_word_embeddings,
        ir_evaluator,
        mine_negatives,
        training_pairs,
        write_model_card,
    )

    paths, rc = cfg.paths, cfg.retriever
    profile = rc.training
    for needed in (
        paths.qa_split("train"),
        paths.qa_split("val"),
        paths.chunks,
        paths.data_quality_metrics,
    ):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found: run `dvc repro validate` first")
    train = list(read_jsonl(paths.qa_split("train")))
    val = list(read_jsonl(paths.qa_split("val")))
    chunks = list(read_jsonl(paths.chunks))
    synthetic = (
        list(read_jsonl(paths.synthetic_qa))
        if rc.use_synthetic and paths.synthetic_qa.exists()
        else []
    )

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(cfg.seed)
    model = load_sentence_transformer(rc.base_model, paths.base_models, device=device)
    model.max_seq_length = profile.max_seq_length
    if rc.freeze_embeddings:
        log.info("froze %.0f M token-embedding parameters", freeze_word_embeddings(model) / 1e6)
    prompts = {
        "query": (model.prompts or {}).get("query", ""),
        "passage": (model.prompts or {}).get("passage", ""),
    }

    pairs = training_pairs(train, synthetic, {c["chunk_id"]: c["text"] for c in chunks})
    n_neg = rc.hard_negatives if rc.loss == "mnrl" else rc.negatives_per_question
    negatives = mine_negatives(
        pairs, chunks, n_neg, rc.mining_top_k, rc.near_duplicate, rc.mining, model
    )
    dataset = build_dataset(pairs, negatives, rc.loss).shuffle(seed=cfg.seed)
    if rc.loss == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(model, scale=rc.mnrl_scale)
        column_prompts = {col: prompts["passage"] for col in dataset.column_names}
        column_prompts["anchor"] = prompts["query"]
    else:
        loss = losses.CosineSimilarityLoss(model)
        column_prompts = {"anchor": prompts["query"], "passage": prompts["passage"]}

    evaluator = ir_evaluator(val, chunks, "val", prompts)
    main_metric = "val_cosine_ndcg@10"
    base_metrics = {k: float(v) for k, v in evaluator(model).items()}
    log.info("base model on val: nDCG@10 %.4f, recall@5 %.4f", base_metrics[main_metric],
             base_metrics["val_cosine_recall@5"])  # fmt: skip

    report_to = tracking.configure(cfg.wandb)
    checkpoints = paths.checkpoints / "embedder"
    args = SentenceTransformerTrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=profile.epochs,
        per_device_train_batch_size=profile.batch_size,
        learning_rate=profile.learning_rate,
        warmup_steps=profile.warmup_steps,
        eval_strategy="steps",
        eval_steps=profile.eval_steps,
        save_strategy="steps",
        save_steps=profile.eval_steps,
        save_total_limit=2,
        load_best_model_at_end=True,
        metric_for_best_model=f"eval_{main_metric}",
        greater_is_better=True,
        logging_steps=max(1, profile.eval_steps // 2),
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=report_to or "none",
        run_name="train_embedder",
        use_cpu=device == "cpu",
        bf16=device == "cuda" and torch.cuda.is_bf16_supported(),
        prompts=column_prompts,
        batch_sampler=BatchSamplers.NO_DUPLICATES
        if rc.loss == "mnrl"
        else BatchSamplers.BATCH_SAMPLER,
        disable_tqdm=False,
    )
    config = {"retriever": rc.model_dump(mode="json"), "seed": cfg.seed, "n_pairs": len(pairs),
              "n_synthetic": len(synthetic), "device": device}  # fmt: skip
    start = time.perf_counter()
    with tracking.run(cfg.wandb, "train_embedder", config) as wandb_run:
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=dataset, loss=loss, evaluator=evaluator
        )
        trainer.train(resume_from_checkpoint=latest_checkpoint(checkpoints))
        seconds = time.perf_counter() - start
        tuned_metrics = {k: float(v) for k, v in evaluator(model).items()}
        if wandb_run is not None:
            wandb_run.summary.update({f"final/base_{k}": v for k, v in base_metrics.items()})
            wandb_run.summary.update({f"final/tuned_{k}": v for k, v in tuned_metrics.items()})
            wandb_run.summary["train_seconds"] = seconds
    log.info("fine-tuned on val: nDCG@10 %.4f (base %.4f), %.0f s on %s", tuned_metrics[main_metric],
             base_metrics[main_metric], seconds, device)  # fmt: skip

    staging = paths.embedder.with_name(paths.embedder.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save(str(staging))
    generators = sorted({p["generator"] for p in synthetic}) or ["none"]
    write_model_card(
        staging, base_model=rc.base_model, base_resolved=resolve(rc.base_model, paths.base_models),
        data_hash=data_hash(paths.qa_split("train"), paths.synthetic_qa) if synthetic else data_hash(paths.qa_split("train")),
        n_human=len(pairs) - len(synthetic), n_synthetic=len(synthetic), generators=", ".join(generators),
        loss=rc.loss, n_negatives=n_neg, mining=rc.mining, n_val=len(evaluator.queries),
        base_metrics=base_metrics, tuned_metrics=tuned_metrics, seconds=seconds, device=device,
        params=rc.model_dump(mode="json"),
    )  # fmt: skip
    shutil.rmtree(paths.embedder, ignore_errors=True)
    staging.rename(paths.embedder)
    write_json(
        paths.train_embedder_metrics,
        {"val_base": {k: round(v, 4) for k, v in base_metrics.items() if "cosine" in k},
         "val_finetuned": {k: round(v, 4) for k, v in tuned_metrics.items() if "cosine" in k},
         "train_pairs": len(pairs), "device": device},
    )  # fmt: skip
    shutil.rmtree(checkpoints, ignore_errors=True)  # finished: resume state no longer needed


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("train_embedder", main, __doc__))
