"""Fine-tune the retriever (sentence-transformers, SentenceTransformerTrainer): stage
``train_embedder``.

Training pairs come from ``retrieval.pairs``. Two losses, as params choose:

- ``mnrl``: MultipleNegativesRankingLoss — every other passage in the batch is a negative, and
  optionally mined hard negatives (top BM25 or base-model chunks that are not relevant and not
  near-duplicates of the positive) make the task harder.
- ``cosine``: the guide's CosineSimilarityLoss — label 1.0 for the positive, 0.0 for
  ``negatives_per_question`` mined negatives.

Validation runs InformationRetrievalEvaluator on the val split every ``eval_steps`` and the best
checkpoint (nDCG@10) is kept. An interrupted run resumes from the newest checkpoint.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from pdfqa.config import RetrieverConfig, TrainLaunchConfig, WandbConfig

log = logging.getLogger("pdfqa.train_embedder")
MAIN_METRIC = "val_cosine_ndcg@10"


@dataclass
class TrainedEmbedder:
    """The fine-tuned model and what its model card and metrics file report."""

    model: object
    settings: RetrieverConfig
    base_metrics: dict[str, float]
    tuned_metrics: dict[str, float]
    n_pairs: int
    n_synthetic: int
    generators: list[str]
    n_negatives: int
    n_val: int
    seconds: float
    device: str
    base_resolved: str
    is_main_process: bool = True
    world_size: int = 1
    # the val evaluator's passage vectors (every chunk): base model, and the restored checkpoint
    corpus_vectors: dict = field(default_factory=dict)
    fingerprints: dict = field(default_factory=dict)  # the weights behind each (corpus_vectors)

    def save(self, out_dir: Path, data_hash: str) -> None:
        """The sentence-transformers directory plus our model card (replacing the generic one)."""
        rc = self.settings
        self.model.save(str(out_dir))
        write_model_card(
            out_dir, base_model=rc.base_model, base_resolved=self.base_resolved, data_hash=data_hash,
            n_human=self.n_pairs - self.n_synthetic, n_synthetic=self.n_synthetic,
            generators=", ".join(self.generators), loss=rc.loss, n_negatives=self.n_negatives,
            mining=rc.mining, n_val=self.n_val, base_metrics=self.base_metrics,
            tuned_metrics=self.tuned_metrics, device=self.device,
            params=rc.model_dump(mode="json"),
        )  # fmt: skip

    def metrics(self) -> dict:
        return {
            "val_base": {k: round(v, 4) for k, v in self.base_metrics.items() if "cosine" in k},
            "val_finetuned": {
                k: round(v, 4) for k, v in self.tuned_metrics.items() if "cosine" in k
            },
            "train_pairs": self.n_pairs,
            "train_seconds": round(self.seconds, 1),
            "device": self.device,
            "world_size": self.world_size,
        }


def train_embedder(
    train: list[dict],
    val: list[dict],
    chunks: list[dict],
    synthetic: list[dict],
    rc: RetrieverConfig,
    *,
    seed: int,
    wandb: WandbConfig,
    base_dir: Path,
    checkpoints: Path,
    callbacks: list | None = None,
    run_name: str = "train_embedder",
    launch: TrainLaunchConfig | None = None,
) -> TrainedEmbedder:
    """Fine-tune ``rc.base_model`` on the train pairs, keep the best val checkpoint (nDCG@10).
    ``callbacks`` are transformers TrainerCallbacks (``pdfqa tune`` reports val metrics to Optuna
    through one); ``run_name`` names the W&B run. Under torchrun (``launch``, see
    ``pdfqa.distributed``) every rank trains on its shard of each batch and MNRL gathers the
    embeddings of all ranks, so in-batch negatives span the global batch."""
    import torch
    from sentence_transformers import (
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.sentence_transformer import losses
    from sentence_transformers.sentence_transformer.training_args import BatchSamplers

    from pdfqa import distributed, tracking
    from pdfqa.models import load_sentence_transformer, resolve
    from pdfqa.retrieval.corpus_vectors import fingerprint
    from pdfqa.retrieval.pairs import build_dataset, mine_negatives, training_pairs

    profile = rc.training
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(seed)
    model = load_sentence_transformer(rc.base_model, base_dir, device=device)
    model.max_seq_length = profile.max_seq_length
    if rc.freeze_embeddings:
        log.info("froze %.0f M token-embedding parameters", freeze_word_embeddings(model) / 1e6)
    if rc.freeze_layers:
        log.info("froze the lowest %d transformer layers (%.1f M parameters)", rc.freeze_layers,
                 freeze_lower_layers(model, rc.freeze_layers) / 1e6)  # fmt: skip
    prompts = {
        "query": (model.prompts or {}).get("query", ""),
        "passage": (model.prompts or {}).get("passage", ""),
    }

    pairs = training_pairs(train, synthetic, {c["chunk_id"]: c["text"] for c in chunks})
    n_neg = rc.hard_negatives if rc.loss == "mnrl" else rc.negatives_per_question
    negatives = mine_negatives(
        pairs, chunks, n_neg, rc.mining_top_k, rc.near_duplicate, rc.mining, model
    )
    dataset = build_dataset(pairs, negatives, rc.loss).shuffle(seed=seed)
    if rc.loss == "mnrl":
        loss = losses.MultipleNegativesRankingLoss(
            model, scale=rc.mnrl_scale, gather_across_devices=distributed.world_size() > 1
        )
        column_prompts = {col: prompts["passage"] for col in dataset.column_names}
        column_prompts["anchor"] = prompts["query"]
    else:
        loss = losses.CosineSimilarityLoss(model)
        column_prompts = {"anchor": prompts["query"], "passage": prompts["passage"]}

    evaluator = ir_evaluator(val, chunks, "val", prompts)
    base_fingerprint = fingerprint(model)
    main = distributed.is_main_process()  # under torchrun, rank 0 alone scores base and tuned
    base_metrics = {k: float(v) for k, v in evaluator(model).items()} if main else {}
    if main:
        log.info("base model on val: nDCG@10 %.4f, recall@5 %.4f", base_metrics[MAIN_METRIC],
                 base_metrics["val_cosine_recall@5"])  # fmt: skip

    report_to = tracking.configure(wandb)
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
        metric_for_best_model=f"eval_{MAIN_METRIC}",
        greater_is_better=True,
        logging_steps=max(1, profile.eval_steps // 2),
        seed=seed,
        data_seed=seed,
        report_to=report_to or "none",
        run_name=run_name,
        use_cpu=device == "cpu",
        bf16=device == "cuda" and torch.cuda.is_bf16_supported(),
        prompts=column_prompts,
        batch_sampler=BatchSamplers.NO_DUPLICATES
        if rc.loss == "mnrl"
        else BatchSamplers.BATCH_SAMPLER,
        disable_tqdm=False,
        ddp_backend=distributed.ddp_backend(launch or TrainLaunchConfig()),
        ddp_find_unused_parameters=True,  # BERT's pooler: mean pooling never uses it
    )
    config = {"retriever": rc.model_dump(mode="json"), "seed": seed, "n_pairs": len(pairs),
              "n_synthetic": len(synthetic), "device": device}  # fmt: skip
    start = time.perf_counter()
    with tracking.run(wandb, run_name, config) as wandb_run:
        trainer = SentenceTransformerTrainer(
            model=model, args=args, train_dataset=dataset, loss=loss, evaluator=evaluator,
            callbacks=callbacks,
        )  # fmt: skip
        trainer.train(resume_from_checkpoint=tracking.latest_checkpoint(checkpoints))
        seconds = time.perf_counter() - start
        distributed.rank_summary(log, "finished: %d optimizer steps on %d process(es)",
                                 trainer.state.global_step, distributed.world_size())  # fmt: skip
        tuned_metrics = (best_eval(trainer.state) or {k: float(v) for k, v in evaluator(model).items()}
                         if main else {})  # fmt: skip
        corpus_vectors = evaluator.kept_vectors(trainer.state.best_global_step) if main else {}
        fingerprints = {"base": base_fingerprint, "finetuned": fingerprint(model)}
        if wandb_run is not None:
            wandb_run.summary.update({f"final/base_{k}": v for k, v in base_metrics.items()})
            wandb_run.summary.update({f"final/tuned_{k}": v for k, v in tuned_metrics.items()})
            wandb_run.summary["train_seconds"] = seconds
    if main:
        log.info("fine-tuned on val: nDCG@10 %.4f (base %.4f), %.0f s on %s",
                 tuned_metrics[MAIN_METRIC], base_metrics[MAIN_METRIC], seconds, device)  # fmt: skip
    return TrainedEmbedder(
        model=model, settings=rc, base_metrics=base_metrics, tuned_metrics=tuned_metrics,
        n_pairs=len(pairs), n_synthetic=len(synthetic),
        generators=sorted({p["generator"] for p in synthetic}) or ["none"], n_negatives=n_neg,
        n_val=len(evaluator.queries), seconds=seconds, device=device,
        base_resolved=resolve(rc.base_model, base_dir),
        is_main_process=trainer.is_world_process_zero(), world_size=distributed.world_size(),
        corpus_vectors=corpus_vectors, fingerprints=fingerprints,
    )  # fmt: skip


def best_eval(state) -> dict[str, float]:
    """The evaluator's metrics at the checkpoint ``load_best_model_at_end`` restored, from the
    trainer's log: scoring the restored model again would encode the whole corpus once more for
    the same numbers. Empty when the log has no such evaluation (a resumed, finished run)."""
    for entry in state.log_history:
        if entry.get("step") == state.best_global_step and f"eval_{MAIN_METRIC}" in entry:
            return {k[len("eval_"):]: float(v) for k, v in entry.items()
                    if k.startswith("eval_val_")}  # fmt: skip
    return {}


def ir_evaluator(records: list[dict], chunks: list[dict], name: str, prompts: dict):
    """InformationRetrievalEvaluator over every chunk, keeping the passage vectors it computes
    (by training step; -1: before training) so the index and eval_retrieval need not embed the
    same passages with the same weights again (``retrieval.corpus_vectors``)."""
    from sentence_transformers.sentence_transformer.evaluation import InformationRetrievalEvaluator

    from pdfqa.retrieval.corpus_vectors import normalised

    class KeepingEvaluator(InformationRetrievalEvaluator):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.step, self.vectors = -1, {}

        def __call__(self, model, output_path=None, epoch=-1, steps=-1, *args, **kwargs):
            self.step = steps
            return super().__call__(model, output_path, epoch, steps, *args, **kwargs)

        def embed_inputs(self, model, sentences, encode_fn_name=None, **kwargs):
            out = super().embed_inputs(model, sentences, encode_fn_name=encode_fn_name, **kwargs)
            if encode_fn_name == "document" and len(sentences) == len(self.corpus):
                # setdefault: a later un-stepped call (the tuned model scored after a resumed
                # run) must not pass for the base model's vectors
                self.vectors.setdefault(self.step, normalised(out))
            return out

        def kept_vectors(self, best_step: int | None) -> dict:
            """{"base": …, "finetuned": …} as far as this process computed them."""
            kept = {"base": self.vectors[-1]} if -1 in self.vectors else {}
            if best_step is not None and best_step in self.vectors:
                kept["finetuned"] = self.vectors[best_step]
            return kept

    queries = {r["id"]: r["question"] for r in records if r["answerable"] and r["relevant_chunks"]}
    relevant = {r["id"]: set(r["relevant_chunks"]) for r in records if r["id"] in queries}
    return KeepingEvaluator(
        queries=queries,
        corpus={c["chunk_id"]: c["text"] for c in chunks},
        relevant_docs=relevant,
        name=name,
        query_prompt=prompts.get("query"),
        corpus_prompt=prompts.get("passage"),
        write_csv=False,
        batch_size=32,
    )


MODEL_CARD = """---
library_name: sentence-transformers
pipeline_tag: sentence-similarity
base_model: {base_model}
tags: [pdfqa, korean, retrieval]
---
# pdfqa retriever (fine-tuned)

Fine-tuned by the pdfqa DVC stage `train_embedder`.

- **Base model**: `{base_model}` ({base_resolved})
- **Training data** (sha256 of the files, first 16 hex): `{data_hash}` — {n_human} human train
  pairs + {n_synthetic} synthetic pairs ({generators}); loss `{loss}`, {n_negatives} mined hard
  negative(s) per question ({mining}).
- **Params**: `{params}`
- **Validation** (val split, {n_val} questions, InformationRetrievalEvaluator):

| metric | base | fine-tuned |
|---|---|---|
{metric_rows}

Trained on {device} (wall time: metrics/train_embedder.json). Use `prompt_name="query"` for questions and
`prompt_name="passage"` for chunks. The base model's licence applies.
"""


def write_model_card(out_dir: Path, **fields) -> None:
    rows = "\n".join(
        f"| {k} | {fields['base_metrics'].get(k, float('nan')):.4f} | {v:.4f} |"
        for k, v in sorted(fields["tuned_metrics"].items())
    )
    params = json.dumps(fields.pop("params"), sort_keys=True)
    (out_dir / "README.md").write_text(
        MODEL_CARD.format(metric_rows=rows, params=params, **fields), encoding="utf-8"
    )


def freeze_lower_layers(model, n: int) -> int:
    """Freeze the embedding block and the lowest ``n`` encoder layers: backward then stops at
    layer ``n`` (a CPU step costs less), and the general-purpose lower layers — what lets the
    model read a document it never trained on — stay as pre-trained."""
    encoder = next((m for m in model.modules() if hasattr(m, "embeddings")
                    and hasattr(getattr(m, "encoder", None), "layer")), None)  # fmt: skip
    if encoder is None:
        raise ValueError("retriever.freeze_layers: the model has no BERT-style encoder layers")
    layers = encoder.encoder.layer
    if n > len(layers):
        raise ValueError(f"retriever.freeze_layers is {n}, the model has {len(layers)} layers")
    frozen = 0
    for module in [encoder.embeddings, *layers[:n]]:
        for parameter in module.parameters():
            if parameter.requires_grad:
                frozen += parameter.numel()
            parameter.requires_grad_(False)
    return frozen


def freeze_word_embeddings(model) -> int:
    """Freeze the token embedding matrix (96 M of e5-small's 118 M parameters): with a few
    hundred pairs it only overfits, and its dense Adam updates dominate CPU step time."""
    frozen = 0
    for module in model.modules():
        embeddings = getattr(module, "word_embeddings", None)
        if embeddings is not None and hasattr(embeddings, "weight"):
            embeddings.weight.requires_grad_(False)
            frozen += embeddings.weight.numel()
    return frozen
