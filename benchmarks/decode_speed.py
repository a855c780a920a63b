"""What one answer costs the generator to decode, and what each CPU setting buys: prompt length
(``generator.max_length``), questions decoded together (``generator.batch_size``) and the
corpus-restricted LM head (``generator.restrict_vocabulary``), measured in one run on the same
val questions with the base model, plus how often the restricted head changes the text.

    python benchmarks/decode_speed.py [--questions 16] [--max-new-tokens 40]

Needs `dvc repro index` (the retriever picks the contexts) and the base models. Times are
seconds of wall time per question; read them as ratios to the first row (the settings before
issue 15), not as absolute numbers: machines differ ~2x.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = [  # (max_length, batch size, restricted head)
    (576, 8, False),
    (384, 8, False),
    (384, 16, False),
    (384, 16, True),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=40)
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from pdfqa.config import load_params
    from pdfqa.generation.engine import HuggingFaceBackend
    from pdfqa.generation.prompt import PromptBuilder
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever

    cfg = load_params(Path("params.yaml"))
    gc = cfg.generator.model_copy(update={"max_new_tokens": args.max_new_tokens})
    retriever = Retriever.from_dir(cfg.paths.index, base_dir=cfg.paths.base_models)
    val = list(read_jsonl(cfg.paths.qa_dir / "val.jsonl"))[: args.questions]
    contexts = [[h.text for h in retriever.search(r["question"], k=gc.context_chunks)] for r in val]
    backend = HuggingFaceBackend(gc, gc.base_model, None, cfg.paths.base_models,
                                 [c["text"] for c in retriever.chunks])  # fmt: skip
    head = backend.head
    print(f"{len(val)} val questions, max_new_tokens {gc.max_new_tokens}, {torch.get_num_threads()} "
          f"threads; static corpus vocabulary {len(head.static)} of {head.vocab_size} words")  # fmt: skip
    texts, first = {}, None
    for max_length, batch, restricted in SETTINGS:
        backend.builder = PromptBuilder(backend.tokenizer, gc.prompt_template, max_length)
        backend.head = head if restricted else None
        head.ids = None  # the full head unless generate() restricts it
        prompts = [backend.builder.build(r["question"], ctx, reserve=gc.max_new_tokens)[0]
                   for r, ctx in zip(val, contexts, strict=True)]  # fmt: skip
        start = time.perf_counter()
        drafts = []
        for i in range(0, len(prompts), batch):
            drafts += backend.generate(prompts[i : i + batch])
        per_question = (time.perf_counter() - start) / len(prompts)
        first = first or per_question
        texts[(max_length, batch, restricted)] = [d.text for d in drafts]
        print(f"max_length {max_length:4d}  batch {batch:2d}  restricted head {restricted!s:5s}  "
              f"{per_question:5.2f} s/question  ({per_question / first:.2f}x)", flush=True)  # fmt: skip
    full, restricted = texts[(384, 16, False)], texts[(384, 16, True)]
    same = sum(a == b for a, b in zip(full, restricted, strict=True))
    print(f"restricted vs full head (384, batch 16): same text for {same}/{len(full)} questions")
    for a, b in zip(full, restricted, strict=True):
        if a != b:
            print(f"  full:       {a[:80]!r}\n  restricted: {b[:80]!r}")


if __name__ == "__main__":
    main()
