"""Synthetic training pairs for users with PDFs but few questions.

Two generators, chosen in params (``synth_qa.generators``):

- ``ict`` (inverse cloze task): a sentence becomes the pseudo-question and its chunk, usually
  with that sentence removed, the positive. Cheap, deterministic, and it teaches a retriever the
  corpus' vocabulary.
- ``llm``: the configured generator model writes questions for a chunk from a Korean prompt.
  Each candidate must share enough morphemes with its chunk and must retrieve that chunk back
  with BM25 (round trip) before it is kept; duplicates are dropped.

Only chunks lying wholly on train pages are used, so no passage that evaluation asks about is
ever trained on. Every synthetic pair is a train pair.
"""

from __future__ import annotations

import hashlib
import logging
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pdfqa.config import SynthQAConfig
from pdfqa.korean import content_tokens, hangul_ratio

log = logging.getLogger("pdfqa.synth_qa")
_CODE_RE = re.compile(r"\\[a-zA-Z]+|[{}$%]|https?://")

LLM_PROMPT = (
    "다음은 문서의 내용입니다:\n\n{context}\n\n"
    "위 내용을 읽은 사용자가 물어볼 만한 한국어 질문을 {n}개 작성하세요. "
    "각 질문은 한 줄에 하나씩, 물음표로 끝나야 합니다.\n\n질문:\n1."
)


@dataclass(frozen=True)
class IctOptions:
    remove_sentence_prob: float = 0.9
    min_chars: int = 15
    max_chars: int = 200
    min_hangul_ratio: float = 0.5
    max_per_chunk: int = 2


def train_chunks(chunks: list[dict], page_split: dict[str, dict[str, str]]) -> list[dict]:
    """Chunks whose every page is a train page (splits.json maps source → page → split)."""
    keep = []
    for chunk in chunks:
        pages = page_split.get(chunk["source"], {})
        span = range(chunk["page_start"], chunk["page_end"] + 1)
        if all(pages.get(str(p), "train") == "train" for p in span):
            keep.append(chunk)
    return keep


def _usable_sentence(sentence: str, opts: IctOptions) -> bool:
    if not opts.min_chars <= len(sentence) <= opts.max_chars:
        return False
    if hangul_ratio(sentence) < opts.min_hangul_ratio:
        return False
    return len(_CODE_RE.findall(sentence)) <= 1  # LaTeX listings and URLs are not questions


def _pair_id(kind: str, chunk_id: str, text: str) -> str:
    return f"{kind}-{chunk_id}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def ict_pairs(
    chunks: list[dict],
    split_sentences: Callable[[list[str]], list[list[str]]],
    opts: IctOptions,
    seed: int,
) -> list[dict]:
    sentences_per_chunk = split_sentences([c["text"] for c in chunks])
    pairs = []
    for chunk, sentences in zip(chunks, sentences_per_chunk, strict=True):
        usable = [s for s in sentences if _usable_sentence(s, opts)]
        if len(sentences) < 2 or not usable:
            continue
        rng = random.Random(f"{seed}:{chunk['chunk_id']}")
        for sentence in rng.sample(usable, min(opts.max_per_chunk, len(usable))):
            removed = rng.random() < opts.remove_sentence_prob
            positive = chunk["text"].replace(sentence, " ").strip() if removed else chunk["text"]
            pairs.append(
                {
                    "id": _pair_id("ict", chunk["chunk_id"], sentence),
                    "question": sentence,
                    "answer": "",
                    "positive": re.sub(r"[ \t]{2,}", " ", positive),
                    "relevant_chunks": [chunk["chunk_id"]],
                    "source": chunk["source"],
                    "generator": "ict",
                    "sentence_removed": removed,
                    "split": "train",
                }
            )
    return pairs


def parse_questions(generated: str) -> list[str]:
    """Numbered or bulleted lines ending in a question mark; the model's other chatter is dropped."""
    questions = []
    for line in generated.splitlines():
        line = re.sub(r"^\s*(?:\d+[.)]|[-•*]|질문\s*\d*\s*[:：])\s*", "", line).strip()
        if line.endswith("?") and 8 <= len(line) <= 150:
            questions.append(line)
    return questions


def lexical_overlap(question: str, context: str) -> float:
    """Share of the question's content morphemes (not particles or endings) in the context."""
    q = set(content_tokens(question))
    if not q:
        return 0.0
    return len(q & set(content_tokens(context))) / len(q)


def filter_generated(
    candidates: list[tuple[str, dict]],
    all_chunks: list[dict],
    min_overlap: float,
    round_trip_k: int,
) -> tuple[list[dict], dict[str, int]]:
    """Keep (question, chunk) pairs that are answerable from the chunk and retrieve it back."""
    from pdfqa.bm25 import KoreanBM25

    index = KoreanBM25([c["text"] for c in all_chunks])
    position = {c["chunk_id"]: i for i, c in enumerate(all_chunks)}
    kept, seen = [], set()
    stats = {"candidates": len(candidates), "duplicate": 0, "low_overlap": 0, "round_trip": 0}
    for question, chunk in candidates:
        key = re.sub(r"\W+", "", question)
        if key in seen:
            stats["duplicate"] += 1
            continue
        seen.add(key)
        if lexical_overlap(question, chunk["text"]) < min_overlap:
            stats["low_overlap"] += 1
            continue
        hits = [i for i, _ in index.search(question, round_trip_k)]
        if position[chunk["chunk_id"]] not in hits:
            stats["round_trip"] += 1
            continue
        kept.append(
            {
                "id": _pair_id("llm", chunk["chunk_id"], question),
                "question": question,
                "answer": "",
                "positive": chunk["text"],
                "relevant_chunks": [chunk["chunk_id"]],
                "source": chunk["source"],
                "generator": "llm",
                "sentence_removed": False,
                "split": "train",
            }
        )
    stats["kept"] = len(kept)
    return kept, stats


def generate_questions(
    model, tokenizer, chunks: list[dict], per_chunk: int, max_new_tokens: int, context_chars: int
) -> list[tuple[str, dict]]:
    """Greedy generation, one prompt per chunk, with a progress bar (slow on CPU)."""
    import torch
    from tqdm import tqdm

    candidates = []
    for chunk in tqdm(chunks, desc="synth_qa llm", unit="chunk", disable=None):
        prompt = LLM_PROMPT.format(context=chunk["text"][:context_chars], n=per_chunk)
        inputs = tokenizer(prompt, return_tensors="pt").to(model.device)
        with torch.no_grad():
            output = model.generate(
                **inputs,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                repetition_penalty=1.3,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        text = "1. " + tokenizer.decode(
            output[0][inputs["input_ids"].shape[1] :], skip_special_tokens=True
        )
        candidates += [(q, chunk) for q in parse_questions(text)[:per_chunk]]
    return candidates


def synthesize(
    chunks: list[dict],
    page_split: dict[str, dict[str, str]],
    settings: SynthQAConfig,
    *,
    splitter: str,
    generator_model: str,
    base_dir: Path,
    seed: int,
) -> list[dict]:
    """Every configured generator's pairs from the train-page chunks, sorted by id (stage ``synth_qa``)."""
    from pdfqa.korean import sentence_splitter

    usable = train_chunks(chunks, page_split)
    pairs: list[dict] = []
    if "ict" in settings.generators:
        ict = ict_pairs(
            usable, sentence_splitter(splitter), IctOptions(**settings.ict.model_dump()), seed
        )
        log.info("ict: %d pairs from %d train-page chunks", len(ict), len(usable))
        pairs += ict
    if "llm" in settings.generators and settings.llm.max_chunks > 0:
        from pdfqa.models import load_causal_lm

        llm = settings.llm
        model, tokenizer = load_causal_lm(generator_model, base_dir)
        model.eval()
        step = max(1, len(usable) // llm.max_chunks)
        picked = usable[::step][: llm.max_chunks]
        candidates = generate_questions(
            model, tokenizer, picked, llm.questions_per_chunk, llm.max_new_tokens, llm.context_chars
        )
        kept, stats = filter_generated(candidates, chunks, llm.min_overlap, llm.round_trip_k)
        log.info("llm (%s): %s", generator_model, stats)
        pairs += kept
    return sorted(pairs, key=lambda p: p["id"])
