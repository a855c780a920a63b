"""LoRA / QLoRA fine-tuning of the answer generator on retrieved contexts.

Each train question becomes one prompt whose context is the chunks holding its evidence *and*
the fine-tuned retriever's top non-relevant chunks, in retrieval order, so the model practises
what inference asks: find the answer among similar passages. Unanswerable questions, and a
share of answerable ones shown only their distractors, teach the abstention answer.

The loss is computed on answer tokens only, and only those positions go through the LM head:
Gemma's 262k-word vocabulary makes full-sequence logits the most expensive part of a CPU step.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

from pdfqa.config import GeneratorConfig
from pdfqa.prompting import PromptBuilder, pad_batch, tokenize_example
from pdfqa.qa import squash

log = logging.getLogger("pdfqa.train_generator")


@dataclass(frozen=True)
class Example:
    id: str
    prompt: str
    answer: str
    kind: str  # answerable | unanswerable | distractors_only


def _contains_evidence(text: str, evidence: str) -> bool:
    return bool(evidence) and squash(evidence) in squash(text)


def build_examples(
    records: Sequence[dict],
    chunk_text: dict[str, str],
    retrieve,
    builder: PromptBuilder,
    settings: GeneratorConfig,
    seed: int,
    augment: bool = True,
) -> list[Example]:
    """``retrieve(question, k) -> [chunk_id, …]`` in rank order (the fine-tuned hybrid retriever)."""
    rng = random.Random(seed)
    n_ctx = settings.context_chunks
    examples = []
    for record in records:
        relevant = [c for c in record.get("relevant_chunks") or [] if c in chunk_text][:n_ctx]
        evidence = record.get("evidence") or ""
        ranked = retrieve(record["question"], n_ctx + len(relevant) + 4)
        distractors = [c for c in ranked if c not in relevant
                       and not _contains_evidence(chunk_text[c], evidence)]  # fmt: skip
        if record["answerable"] and relevant:
            chosen = distractors[: n_ctx - len(relevant)]
            order = [c for c in ranked if c in relevant or c in chosen]
            for c in relevant:  # the retriever missed it: it still belongs in the context
                if c not in order:
                    order.insert(rng.randint(0, len(order)), c)
            examples.append(_example(record, order, [order.index(c) for c in relevant],
                                     record["answer"], "answerable", chunk_text, builder))  # fmt: skip
            if augment and rng.random() < settings.abstain_augment:
                examples.append(_example(record, distractors[:n_ctx], [], settings.abstain_answer,
                                         "distractors_only", chunk_text, builder))  # fmt: skip
        elif not record["answerable"]:
            examples.append(_example(record, ranked[:n_ctx], [], settings.abstain_answer,
                                     "unanswerable", chunk_text, builder))  # fmt: skip
    return examples


def _example(record, order, keep, answer, kind, chunk_text, builder: PromptBuilder) -> Example:
    reserve = builder.count(answer) + 1
    prompt, _ = builder.build(record["question"], [chunk_text[c] for c in order], reserve, keep)
    suffix = "" if kind == "answerable" else f"#{kind}"
    return Example(record["id"] + suffix, prompt, answer, kind)


def tokenize_examples(examples: Sequence[Example], tokenizer, max_length: int):
    from datasets import Dataset

    rows = [tokenize_example(tokenizer, e.prompt, e.answer, max_length) for e in examples]
    return Dataset.from_list(rows)


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


def make_trainer(model, tokenizer, args, train_dataset, eval_dataset):
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
- **Trained** {steps} optimizer steps in {seconds:.0f} s on {device}; params `{params}`.

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
