"""Stage train_generator: LoRA/QLoRA-adapt the answer generator on retrieved contexts →
models/generator_adapter/ (peft adapter + tokenizer + model card).

Multi-GPU: `accelerate launch -m stages.train_generator` or
`torchrun --nproc_per_node N -m stages.train_generator` (the Trainer shards batches; only rank 0
writes the adapter)."""

from __future__ import annotations

import logging
import shutil
import time
from collections import Counter

from pdfqa.config import Params
from pdfqa.errors import PdfqaError
from stages._runner import latest_checkpoint

log = logging.getLogger("pdfqa.train_generator")


def main(cfg: Params) -> None:
    import torch
    from transformers import TrainingArguments

    from pdfqa import tracking
    from pdfqa.generator_training import (
        build_examples,
        load_trainable,
        make_trainer,
        tokenize_examples,
        write_model_card,
    )
    from pdfqa.jsonio import read_jsonl, write_json
    from pdfqa.models import native_bf16, resolve
    from pdfqa.models.builtins import drop_environment_keys
    from pdfqa.prompting import PromptBuilder
    from pdfqa.retrieval import Retriever
    from pdfqa.training import data_hash

    paths, gc = cfg.paths, cfg.generator
    profile = gc.training
    for needed in (
        paths.qa_split("train"),
        paths.qa_split("val"),
        paths.chunks,
        paths.index / "manifest.json",
    ):
        if not needed.exists():
            raise PdfqaError(f"{needed} not found: run `dvc repro index` first")
    train = list(read_jsonl(paths.qa_split("train")))
    val = list(read_jsonl(paths.qa_split("val")))
    chunk_text = {c["chunk_id"]: c["text"] for c in read_jsonl(paths.chunks)}

    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(cfg.seed)
    model, tokenizer = load_trainable(gc, paths.base_models, device)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("%s on %s: %d trainable parameters (%s)", "QLoRA" if gc.quantization == "4bit" else "LoRA",
             device, n_trainable, ", ".join(gc.target_modules))  # fmt: skip

    retriever = Retriever.from_dir(paths.index, base_dir=paths.base_models)

    def retrieve(question: str, k: int) -> list[str]:
        return [h.chunk_id for h in retriever.search(question, k=k, mode="hybrid")]

    builder = PromptBuilder(tokenizer, gc.prompt_template, gc.max_length)
    train_examples = build_examples(train, chunk_text, retrieve, builder, gc, cfg.seed)
    val_examples = build_examples(val, chunk_text, retrieve, builder, gc, cfg.seed, augment=False)
    kinds = Counter(e.kind for e in train_examples)
    log.info("train examples: %s; val examples: %d", dict(sorted(kinds.items())), len(val_examples))
    train_ds = tokenize_examples(train_examples, tokenizer, gc.max_length).shuffle(seed=cfg.seed)
    val_ds = tokenize_examples(val_examples, tokenizer, gc.max_length)

    report_to = tracking.configure(cfg.wandb)
    checkpoints = paths.checkpoints / "generator"
    # bf16 autocast on CPU is limited to plain LoRA: the 4-bit path already computes in bf16
    mixed = profile.precision == "auto" and (device == "cuda" or gc.quantization == "none")
    bf16 = mixed and native_bf16(device)
    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=profile.epochs,
        per_device_train_batch_size=profile.batch_size,
        per_device_eval_batch_size=profile.batch_size,
        gradient_accumulation_steps=profile.grad_accum,
        learning_rate=profile.learning_rate,
        warmup_steps=profile.warmup_steps,
        eval_strategy="steps",
        eval_steps=profile.eval_steps,
        save_strategy="steps",
        save_steps=profile.eval_steps,
        save_total_limit=profile.save_total_limit,
        load_best_model_at_end=True,
        metric_for_best_model="eval_loss",
        greater_is_better=False,
        prediction_loss_only=True,
        logging_steps=max(1, profile.eval_steps // 4),
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to=report_to or "none",
        run_name="train_generator",
        use_cpu=device == "cpu",
        bf16=bf16,
        fp16=mixed and device == "cuda" and not bf16 and gc.quantization != "4bit",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
    )
    log.info("precision: %s", "bf16 mixed" if bf16 else "fp16 mixed" if args.fp16 else "fp32")
    config = {"generator": gc.model_dump(mode="json"), "seed": cfg.seed, "device": device,
              "n_train": len(train_examples), "n_val": len(val_examples), "kinds": dict(kinds)}  # fmt: skip
    start = time.perf_counter()
    with tracking.run(cfg.wandb, "train_generator", config) as wandb_run:
        trainer = make_trainer(model, tokenizer, args, train_ds, val_ds)
        resume = latest_checkpoint(checkpoints)
        base_loss = float(
            trainer.evaluate()["eval_loss"]
        )  # LoRA starts as a no-op: this is the base
        if resume:
            log.info("resuming from %s", resume)
        trainer.train(resume_from_checkpoint=resume)
        seconds = time.perf_counter() - start
        best = trainer.state.best_metric  # the loaded best checkpoint's val loss
        tuned_loss = float(best) if best is not None else float(trainer.evaluate()["eval_loss"])
        if wandb_run is not None:
            wandb_run.summary.update({"final/base_val_loss": base_loss, "final/tuned_val_loss": tuned_loss,
                                      "train_seconds": seconds})  # fmt: skip
    log.info(
        "val loss (answer tokens) %.4f → %.4f in %.0f s on %s",
        base_loss,
        tuned_loss,
        seconds,
        device,
    )
    if not trainer.is_world_process_zero():
        return

    out = paths.generator_adapter
    staging = out.with_name(out.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    model.save_pretrained(str(staging))
    tokenizer.save_pretrained(str(staging))
    drop_environment_keys(staging)
    write_model_card(
        staging, base_model=gc.base_model, base_resolved=resolve(gc.base_model, paths.base_models),
        method="QLoRA (4-bit NF4)" if gc.quantization == "4bit" else "LoRA",
        r=gc.lora.r, alpha=gc.lora.alpha, dropout=gc.lora.dropout, targets=", ".join(gc.target_modules),
        quant_note="; base weights 4-bit NF4, double quantisation, bf16 compute" if gc.quantization == "4bit" else "",
        data_hash=data_hash(paths.qa_split("train")), n_train=len(train_examples),
        kinds=", ".join(f"{k} {v}" for k, v in sorted(kinds.items())), n_val=len(val_examples),
        base_loss=base_loss, tuned_loss=tuned_loss, steps=trainer.state.global_step, seconds=seconds,
        device=device, params=gc.model_dump(mode="json"), adapter_dir=str(out),
    )  # fmt: skip
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    write_json(paths.train_generator_metrics, {
        "val_loss_base": round(base_loss, 4), "val_loss_tuned": round(tuned_loss, 4),
        "train_examples": len(train_examples), "val_examples": len(val_examples),
        "steps": trainer.state.global_step, "train_seconds": round(seconds, 1), "device": device,
        "precision": "bf16" if bf16 else "fp16" if args.fp16 else "fp32",
        "method": "qlora" if gc.quantization == "4bit" else "lora",
    })  # fmt: skip
    shutil.rmtree(checkpoints, ignore_errors=True)  # finished: resume state no longer needed


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("train_generator", main, __doc__))
