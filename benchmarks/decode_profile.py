"""Where one batch of ``generate`` spends its CPU time: the prompt's prefill against the token-by-
token decode, and the operators that dominate, with the settings ``eval_generation`` uses
(``generator.batch_size``, ``max_length``, the restricted head). It tells which of the stage's
costs a change can still remove (issue 15's repro-time target).

    python benchmarks/decode_profile.py [--system base|lora] [--top 12]

Needs `dvc repro index` (and `train_generator` for ``--system lora``). Read the shares as ratios
within this one run, not absolute seconds: machines differ ~2x.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", choices=["base", "lora"], default="base")
    parser.add_argument("--top", type=int, default=12, help="operators listed, by self CPU time")
    args = parser.parse_args()
    os.chdir(ROOT)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from torch.profiler import profile

    from pdfqa.config import load_params
    from pdfqa.generation.confidence import Calibration
    from pdfqa.generation.engine import engine_for
    from pdfqa.jsonio import read_jsonl
    from pdfqa.retrieval.index import Retriever

    cfg = load_params(Path("params.yaml"))
    gc = cfg.generator
    retriever = Retriever.from_dir(cfg.paths.index, base_dir=cfg.paths.base_models)
    engine = engine_for(args.system, cfg, retriever, calibration=Calibration(threshold=0.0))
    backend = engine.backend
    val = list(read_jsonl(cfg.paths.qa_dir / "val.jsonl"))[: gc.batch_size]
    prompts = []
    for row in val:
        hits = retriever.search(row["question"], k=gc.context_chunks)
        prompts.append(backend.builder.build(row["question"], [h.text for h in hits],
                                             reserve=gc.max_new_tokens)[0])  # fmt: skip
    tokens = backend.tokenizer(prompts, padding=True, return_tensors="pt")["input_ids"].shape
    print(f"{args.system}: {len(prompts)} val prompts of {tokens[1]} tokens, max_new_tokens "
          f"{gc.max_new_tokens}, {torch.get_num_threads()} threads")  # fmt: skip
    backend.generate(prompts[:2])  # warm-up

    def timed(max_new_tokens: int) -> float:
        backend.settings = gc.model_copy(update={"max_new_tokens": max_new_tokens})
        start = time.perf_counter()
        backend.generate(prompts)
        return time.perf_counter() - start

    prefill, full = timed(1), timed(gc.max_new_tokens)
    steps = gc.max_new_tokens - 1
    print(f"prefill (1 token) {prefill:6.2f} s  ({prefill / full:.2f} of a generate call)")
    print(f"decode  ({steps} steps) {full - prefill:6.2f} s  ({(full - prefill) / full:.2f}; "
          f"{(full - prefill) / steps:.3f} s a step)")  # fmt: skip
    print(f"generate          {full:6.2f} s  ({full / len(prompts):.2f} s a question)")
    backend.settings = gc
    with profile() as prof:
        backend.generate(prompts)
    ops = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in ops)
    print(f"\noperators by self CPU time (share of {total / 1e6:.2f} s profiled):")
    for e in ops[: args.top]:
        print(f"  {e.key:52s} {e.self_cpu_time_total / total:6.3f}  {e.count:6d} calls")


if __name__ == "__main__":
    main()
