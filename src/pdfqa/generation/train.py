"""LoRA / QLoRA fine-tuning of the answer generator on retrieved contexts: stage ``train_generator``.

Examples come from ``generation.examples``. The loss is computed on answer tokens only, and only
those positions go through the LM head: Gemma's 262k-word vocabulary makes full-sequence logits
the most expensive part of a CPU step. An interrupted run resumes from the newest checkpoint;
only the main process (rank 0 under torchrun) writes the adapter.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pdfqa.config import GeneratorConfig, TrainLaunchConfig, WandbConfig
from pdfqa.generation.prompt import pad_batch

log = logging.getLogger("pdfqa.train_generator")


def quantization_config():
    """The guide's QLoRA recipe: 4-bit NF4 with double quantisation, bf16 compute."""
    import torch
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
    )


def load_trainable(settings: GeneratorConfig, base_dir, device: str):
    """(peft model, tokenizer): LoRA on a float model, or QLoRA on a 4-bit one."""
    import os

    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    from pdfqa.models import load_causal_lm

    kwargs: dict = {}
    if settings.quantization == "4bit":
        logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
        # one process per GPU under accelerate/torchrun: each loads its shard on its own device
        target = int(os.environ.get("LOCAL_RANK", 0)) if device == "cuda" else "cpu"
        kwargs = {"quantization_config": quantization_config(), "device_map": {"": target}}
    else:
        kwargs = {"dtype": torch.float32}
    model, tokenizer = load_causal_lm(settings.base_model, base_dir, **kwargs)
    if settings.quantization == "4bit":
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    elif device == "cuda":
        model = model.to(device)
    tokenizer.padding_side = "right"  # Gemma pads left by default; labels are masked on the right
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    lora = settings.lora
    config = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                        target_modules=settings.target_modules, task_type="CAUSAL_LM", bias="none")  # fmt: skip
    return get_peft_model(model, config), tokenizer


def loss_subset(examples: list, n: int | None, seed: int) -> list:
    """A fixed, seeded subset of ``n`` val examples (in their original order) for the val loss:
    on CPU, scoring every val example before and after training costs as much as a third of the
    training steps, and the loss is only reported (one eval: nothing is selected by it)."""
    import random

    if n is None or n >= len(examples):
        return examples
    keep = sorted(random.Random(seed).sample(range(len(examples)), n))
    return [examples[i] for i in keep]


def answer_only_loss(model, batch: dict, num_items: int | None = None):
    """Causal LM loss over answer tokens, projecting only the positions that predict them."""
    import torch

    labels = batch["labels"]
    targets = labels[:, 1:]
    positions = torch.nonzero((targets != -100).any(dim=0)).flatten()  # union over the batch
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                logits_to_keep=positions)  # fmt: skip
    logits = out.logits.float()
    picked = targets[:, positions]
    loss = torch.nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), picked.reshape(-1), ignore_index=-100, reduction="sum"
    )
    count = num_items if num_items else (picked != -100).sum()
    return loss / count


def make_trainer(model, tokenizer, args, train_dataset, eval_dataset, callbacks=None):
    from transformers import Trainer

    class AnswerOnlyTrainer(Trainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = answer_only_loss(model, inputs, num_items_in_batch)
            return (loss, {"loss": loss}) if return_outputs else loss

    pad_id = tokenizer.pad_token_id
    return AnswerOnlyTrainer(
        model=model,
        args=args,
        train_dataset=train_dataset,
        eval_dataset=eval_dataset,
        data_collator=lambda features: pad_batch(features, pad_id),
        processing_class=tokenizer,
        callbacks=callbacks,
    )


MODEL_CARD = """---
library_name: peft
base_model: {base_model}
pipeline_tag: text-generation
tags: [pdfqa, korean, lora, question-answering]
---
# pdfqa answer generator — {method} adapter

Trained by the pdfqa DVC stage `train_generator` on retrieved contexts (relevant chunks plus
the fine-tuned retriever's distractors) with the loss on answer tokens only.

- **Base model**: `{base_model}` ({base_resolved}); its licence applies to this adapter
  (the builtin Gemma 3 270M: Gemma Terms of Use).
- **Method**: {method}; LoRA r={r}, alpha={alpha}, dropout={dropout}, target modules
  {targets}{quant_note}.
- **Training data** (sha256 of train.jsonl, first 16 hex `{data_hash}`): {n_train} examples
  ({kinds}); validation {n_val} examples.
- **Validation loss** (answer tokens): base {base_loss:.4f} → adapted {tuned_loss:.4f}.
- **Trained** {steps} optimizer steps on {device} (wall time: metrics/train_generator.json);
  params `{params}`.

Load with peft:

```python
from peft import PeftModel
from transformers import AutoModelForCausalLM
model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained("<base>"), "{adapter_dir}")
```

or serve with vLLM: `vllm serve <base> --enable-lora --lora-modules pdfqa={adapter_dir}` and
`pdfqa ask --system openai --endpoint http://localhost:8000/v1 --model pdfqa "질문"`.
"""


def write_model_card(out_dir, **fields) -> None:
    import json
    from pathlib import Path

    fields["params"] = json.dumps(fields["params"], sort_keys=True, ensure_ascii=False)
    (Path(out_dir) / "README.md").write_text(MODEL_CARD.format(**fields), encoding="utf-8")


def stable_adapter_config(out_dir) -> None:
    """peft keeps ``target_modules`` as a set and writes it in hash order, which changes with
    every interpreter (PYTHONHASHSEED): the same training gave ``["q_proj", "v_proj"]`` in one
    run and ``["v_proj", "q_proj"]`` in the next, so DVC saw a new adapter and re-ran everything
    downstream. Sorted, in peft's own format, the file is the same for the same training."""
    import json
    from pathlib import Path

    path = Path(out_dir) / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
        path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")


@dataclass
class TrainedGenerator:
    """The adapted model and what its model card and metrics file report."""

    model: object
    tokenizer: object
    settings: GeneratorConfig
    is_main_process: bool
    kinds: Counter
    n_train: int
    n_val: int
    base_loss: float
    tuned_loss: float
    steps: int
    seconds: float
    device: str
    precision: str
    base_resolved: str
    world_size: int = 1

    def save(self, out_dir: Path, data_hash: str, adapter_dir: Path) -> None:
        """Adapter + tokenizer + model card into ``out_dir`` (``adapter_dir``: where it will live)."""
        from pdfqa.models.builtins import drop_environment_keys

        gc, qlora = self.settings, self.settings.quantization == "4bit"
        self.model.save_pretrained(str(out_dir))
        self.tokenizer.save_pretrained(str(out_dir))
        stable_adapter_config(out_dir)
        drop_environment_keys(out_dir)
        write_model_card(
            out_dir, base_model=gc.base_model, base_resolved=self.base_resolved,
            method="QLoRA (4-bit NF4)" if qlora else "LoRA",
            r=gc.lora.r, alpha=gc.lora.alpha, dropout=gc.lora.dropout, targets=", ".join(gc.target_modules),
            quant_note="; base weights 4-bit NF4, double quantisation, bf16 compute" if qlora else "",
            data_hash=data_hash, n_train=self.n_train,
            kinds=", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items())), n_val=self.n_val,
            base_loss=self.base_loss, tuned_loss=self.tuned_loss, steps=self.steps,
            device=self.device, params=gc.model_dump(mode="json"), adapter_dir=str(adapter_dir),
        )  # fmt: skip

    def metrics(self) -> dict:
        return {
            "val_loss_base": round(self.base_loss, 4), "val_loss_tuned": round(self.tuned_loss, 4),
            "train_examples": self.n_train, "val_examples": self.n_val, "steps": self.steps,
            "train_seconds": round(self.seconds, 1), "device": self.device, "precision": self.precision,
            "method": "qlora" if self.settings.quantization == "4bit" else "lora",
            "world_size": self.world_size,
        }  # fmt: skip


def train_generator(
    train: list[dict],
    val: list[dict],
    chunk_text: dict[str, str],
    gc: GeneratorConfig,
    *,
    seed: int,
    wandb: WandbConfig,
    index_dir: Path,
    base_dir: Path,
    checkpoints: Path,
    callbacks: list | None = None,
    run_name: str = "train_generator",
    launch: TrainLaunchConfig | None = None,
) -> TrainedGenerator:
    """LoRA/QLoRA-adapt ``gc.base_model``; contexts come from the fine-tuned index in ``index_dir``.
    ``callbacks`` are TrainerCallbacks (``pdfqa tune`` prunes through one); ``run_name`` names
    the W&B run. ``launch``: the DDP backend under torchrun and an optional DeepSpeed config."""
    import torch
    from transformers import TrainingArguments

    from pdfqa import distributed, tracking
    from pdfqa.generation.examples import build_examples, tokenize_examples
    from pdfqa.generation.prompt import PromptBuilder
    from pdfqa.models import native_bf16, resolve
    from pdfqa.retrieval.index import Retriever

    profile, launch = gc.training, launch or TrainLaunchConfig()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    model, tokenizer = load_trainable(gc, base_dir, device)
    n_trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    log.info("%s on %s: %d trainable parameters (%s)", "QLoRA" if gc.quantization == "4bit" else "LoRA",
             device, n_trainable, ", ".join(gc.target_modules))  # fmt: skip

    retriever = Retriever.from_dir(index_dir, base_dir=base_dir)

    def retrieve(question: str, k: int) -> list[str]:
        return [h.chunk_id for h in retriever.search(question, k=k, mode="hybrid")]

    builder = PromptBuilder(tokenizer, gc.prompt_template, gc.max_length)
    train_examples = build_examples(train, chunk_text, retrieve, builder, gc, seed)
    val_examples = build_examples(val, chunk_text, retrieve, builder, gc, seed, augment=False)
    val_examples = loss_subset(val_examples, profile.eval_examples, seed)
    kinds = Counter(e.kind for e in train_examples)
    log.info("train examples: %s; val examples: %d", dict(sorted(kinds.items())), len(val_examples))
    train_ds = tokenize_examples(train_examples, tokenizer, gc.max_length).shuffle(seed=seed)
    val_ds = tokenize_examples(val_examples, tokenizer, gc.max_length)

    report_to = tracking.configure(wandb)
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
        seed=seed,
        data_seed=seed,
        report_to=report_to or "none",
        run_name=run_name,
        use_cpu=device == "cpu",
        bf16=bf16,
        fp16=mixed and device == "cuda" and not bf16 and gc.quantization != "4bit",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        disable_tqdm=False,
        ddp_backend=distributed.ddp_backend(launch),
        ddp_find_unused_parameters=False,  # LoRA: every trainable parameter gets a gradient
        deepspeed=str(launch.deepspeed) if launch.deepspeed else None,
    )
    precision = "bf16" if bf16 else "fp16" if args.fp16 else "fp32"
    log.info(
        "precision: %s", {"bf16": "bf16 mixed", "fp16": "fp16 mixed"}.get(precision, precision)
    )
    config = {"generator": gc.model_dump(mode="json"), "seed": seed, "device": device,
              "n_train": len(train_examples), "n_val": len(val_examples), "kinds": dict(kinds)}  # fmt: skip
    start = time.perf_counter()
    with tracking.run(wandb, run_name, config) as wandb_run:
        trainer = make_trainer(model, tokenizer, args, train_ds, val_ds, callbacks)
        resume = tracking.latest_checkpoint(checkpoints)
        # LoRA starts as a no-op: this is the base model's loss
        base_loss = float(trainer.evaluate()["eval_loss"])
        if resume:
            log.info("resuming from %s", resume)
        trainer.train(resume_from_checkpoint=resume)
        seconds = time.perf_counter() - start
        distributed.rank_summary(log, "finished: %d optimizer steps on %d process(es)",
                                 trainer.state.global_step, distributed.world_size())  # fmt: skip
        best = trainer.state.best_metric  # the loaded best checkpoint's val loss
        tuned_loss = float(best) if best is not None else float(trainer.evaluate()["eval_loss"])
        if wandb_run is not None:
            wandb_run.summary.update({"final/base_val_loss": base_loss, "final/tuned_val_loss": tuned_loss,
                                      "train_seconds": seconds})  # fmt: skip
    log.info("val loss (answer tokens) %.4f → %.4f in %.0f s on %s", base_loss, tuned_loss, seconds,
             device)  # fmt: skip
    return TrainedGenerator(
        model=model, tokenizer=tokenizer, settings=gc, is_main_process=trainer.is_world_process_zero(),
        kinds=kinds, n_train=len(train_examples), n_val=len(val_examples), base_loss=base_loss,
        tuned_loss=tuned_loss, steps=trainer.state.global_step, seconds=seconds, device=device,
        precision=precision, base_resolved=resolve(gc.base_model, base_dir),
        world_size=distributed.world_size(),
    )  # fmt: skip
