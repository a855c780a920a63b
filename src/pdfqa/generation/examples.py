"""Training examples for the generator: one prompt per train question, built on retrieved contexts.

Each train question becomes one prompt whose context is the chunks holding its evidence *and*
the fine-tuned retriever's top non-relevant chunks, in retrieval order, so the model practises
what inference asks: find the answer among similar passages. Unanswerable questions, and a
share of answerable ones shown only their distractors, teach the abstention answer.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from pdfqa.config import GeneratorConfig
from pdfqa.generation.prompt import PromptBuilder, tokenize_example
from pdfqa.korean import squash


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
