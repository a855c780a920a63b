"""The generator's prompt: one template (``generator.prompt_template``) for training and inference.

The template ends with ``{answer}``; everything before it is the prompt the model completes at
inference, and training appends the answer and EOS to exactly that text, so what the model
learns and what it is asked are the same token sequence. Contexts are fitted into
``generator.max_length`` tokens by trimming distractors first; the chunks that hold the answer
and the answer itself are never cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_FIELD_RE = re.compile(r"\{(context|question)\}")
CHUNK_SEPARATOR = "\n\n"
_SAFETY_TOKENS = 4  # tokenising pieces separately vs together can differ by a token or two


def prompt_prefix(template: str) -> str:
    return template[: template.index("{answer}")]


def render_prompt(template: str, context: str, question: str) -> str:
    """Fill {context} and {question} in one pass (a brace in a PDF must not break formatting)."""
    values = {"context": context, "question": question}
    return _FIELD_RE.sub(lambda m: values[m.group(1)], prompt_prefix(template))


class PromptBuilder:
    """Fits contexts into the token budget of one tokenizer."""

    def __init__(self, tokenizer, template: str, max_length: int):
        self.tokenizer = tokenizer
        self.template = template
        self.max_length = max_length

    def count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, n_tokens: int) -> str:
        ids = self.tokenizer(text, add_special_tokens=False)["input_ids"][: max(0, n_tokens)]
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def build(
        self, question: str, chunks: Sequence[str], reserve: int, keep: Sequence[int] = ()
    ) -> tuple[str, list[int]]:
        """Prompt text and the indices of ``chunks`` it contains (in the given order).

        ``reserve`` tokens are left for the answer (its length in training, max_new_tokens at
        inference) plus BOS/EOS. ``keep`` chunks are placed before any distractor gets room and
        are only truncated if they alone exceed the budget.
        """
        overhead = self.count(render_prompt(self.template, "", question)) + reserve + 2
        budget = self.max_length - overhead - _SAFETY_TOKENS
        sizes = [self.count(c) + 1 for c in chunks]  # + the separator
        keep_set = set(keep)
        kept_total = sum(sizes[i] for i in keep_set)
        keep_share = None if kept_total <= budget else max(2, budget // len(keep_set))
        room = max(0, budget - kept_total)
        placed: list[tuple[int, str]] = []
        for i, text in enumerate(chunks):
            if i in keep_set:
                fits = keep_share is None or sizes[i] <= keep_share
                placed.append((i, text if fits else self.truncate(text, keep_share - 1)))
            elif room > 16:  # a shorter scrap of a distractor is noise
                take = min(sizes[i], room)
                placed.append((i, text if take == sizes[i] else self.truncate(text, take - 1)))
                room -= take
        context = CHUNK_SEPARATOR.join(text for _, text in placed)
        prompt = render_prompt(self.template, context, question)
        excess = self.count(prompt) + reserve + 2 - self.max_length
        if excess > 0:  # the question alone is huge: cut the context, never the answer
            context = self.truncate(context, self.count(context) - excess)
            prompt = render_prompt(self.template, context, question)
        return prompt, [i for i, _ in placed]


def tokenize_example(tokenizer, prompt: str, answer: str, max_length: int) -> dict:
    """input_ids = BOS + prompt + answer + EOS; labels = -100 everywhere except the answer and
    EOS, so the loss is on the answer tokens only."""
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    answer_ids = tokenizer(answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    bos = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else []
    head = bos + prompt_ids
    if len(head) + len(answer_ids) > max_length:  # PromptBuilder leaves room; this is a guard
        head = head[: max_length - len(answer_ids)]
    input_ids = head + answer_ids
    return {
        "input_ids": input_ids,
        "attention_mask": [1] * len(input_ids),
        "labels": [-100] * len(head) + answer_ids,
    }


def pad_batch(features: list[dict], pad_id: int) -> dict:
    """Right-pad a batch (labels with -100) for training."""
    import torch

    width = max(len(f["input_ids"]) for f in features)
    batch = {"input_ids": [], "attention_mask": [], "labels": []}
    for f in features:
        gap = width - len(f["input_ids"])
        batch["input_ids"].append(list(f["input_ids"]) + [pad_id] * gap)
        batch["attention_mask"].append(list(f["attention_mask"]) + [0] * gap)
        batch["labels"].append(list(f["labels"]) + [-100] * gap)
    return {k: torch.tensor(v, dtype=torch.long) for k, v in batch.items()}


STOP_MARKERS = ("\n\n질문:", "\n질문:", "\n\n다음은 문서", "\n\n위 문서 내용을", "\n\n답변:")


def clean_generation(text: str, question: str = "") -> str:
    """Strip what a base model echoes or runs on into: a repeated prompt, the next question,
    an answer label; then whitespace."""
    for marker in STOP_MARKERS:
        if marker in text:
            text = text[: text.index(marker)]
    text = text.strip()
    for prefix in ("답변:", "답:"):
        if text.startswith(prefix):
            text = text[len(prefix) :].strip()
    if question and text.startswith(question):
        text = text[len(question) :].strip()
    return text


def support(answer_tokens: Sequence[str], context_tokens: set[str]) -> float:
    """Share of the answer's content tokens present in a context."""
    if not answer_tokens:
        return 0.0
    return sum(1 for t in answer_tokens if t in context_tokens) / len(answer_tokens)
