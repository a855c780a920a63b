"""Stage synth_qa: chunks (train pages only) → data/qa/synthetic.jsonl (ICT and/or LLM pairs)."""

from __future__ import annotations

import logging

from pdfqa.config import Params
from pdfqa.errors import PdfqaError

log = logging.getLogger("pdfqa.synth_qa")


def main(cfg: Params) -> None:
    import json

    from pdfqa.jsonio import read_jsonl, write_jsonl
    from pdfqa.korean import sentence_splitter
    from pdfqa.synthetic import (
        IctOptions,
        filter_generated,
        generate_questions,
        ict_pairs,
        train_chunks,
    )

    paths, synth = cfg.paths, cfg.synth_qa
    splits_file = paths.qa_dir / "splits.json"
    if not splits_file.exists():
        raise PdfqaError(f"{splits_file} not found: run the qa stage first (dvc repro)")
    chunks = list(read_jsonl(paths.chunks))
    usable = train_chunks(chunks, json.loads(splits_file.read_text(encoding="utf-8"))["pages"])
    pairs: list[dict] = []
    if "ict" in synth.generators:
        ict = ict_pairs(
            usable,
            sentence_splitter(cfg.chunk.splitter),
            IctOptions(**synth.ict.model_dump()),
            cfg.seed,
        )
        log.info("ict: %d pairs from %d train-page chunks", len(ict), len(usable))
        pairs += ict
    if "llm" in synth.generators and synth.llm.max_chunks > 0:
        from pdfqa.models import load_causal_lm

        model, tokenizer = load_causal_lm(cfg.generator.base_model, paths.base_models)
        model.eval()
        step = max(1, len(usable) // synth.llm.max_chunks)
        picked = usable[::step][: synth.llm.max_chunks]
        candidates = generate_questions(
            model, tokenizer, picked, synth.llm.questions_per_chunk,
            synth.llm.max_new_tokens, synth.llm.context_chars,
        )  # fmt: skip
        kept, stats = filter_generated(
            candidates, chunks, synth.llm.min_overlap, synth.llm.round_trip_k
        )
        log.info("llm (%s): %s", cfg.generator.base_model, stats)
        pairs += kept
    write_jsonl(paths.synthetic_qa, sorted(pairs, key=lambda p: p["id"]))
    log.info("%d synthetic train pairs → %s", len(pairs), paths.synthetic_qa)


if __name__ == "__main__":
    from stages._runner import run

    raise SystemExit(run("synth_qa", main, __doc__))
