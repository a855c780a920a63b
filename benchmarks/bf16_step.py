"""One LoRA training step of the builtin Gemma 3 270M: fp32 vs bf16 autocast, same run, same batch.

Why: `generator.profiles.*.precision: auto` turns on bf16 mixed precision on CPUs that compute
bf16 natively (AVX512-BF16 / AMX). This measures what that buys on this machine and checks the
loss barely moves. The batch is real: the guide's prompt over sample-corpus chunks, padded to
``--length`` tokens, loss on the last 32 (answer) tokens, as train_generator computes it.

    python benchmarks/bf16_step.py [--length 560] [--batch 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def batch(tokenizer, length: int, size: int):
    import json

    import torch

    chunks = [json.loads(line)["text"] for line in (ROOT / "data/processed/chunks.jsonl").open()]
    rows = []
    for i in range(size):
        ids = tokenizer("\n\n".join(chunks[i * 4 : i * 4 + 4]), add_special_tokens=False)
        rows.append(ids["input_ids"][:length])
    ids = torch.tensor(rows)
    labels = torch.full_like(ids, -100)
    labels[:, -32:] = ids[:, -32:]
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "labels": labels}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=560)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    import torch

    from pdfqa.config import load_params
    from pdfqa.generation.train import answer_only_loss, load_trainable
    from pdfqa.models import native_bf16

    cfg = load_params(ROOT / "params.yaml")
    model, tokenizer = load_trainable(cfg.generator, ROOT / cfg.paths.base_models, "cpu")
    data = batch(tokenizer, args.length, args.batch)
    best = {"fp32": float("inf"), "bf16": float("inf")}
    losses = {}
    for _ in range(args.repeats):  # alternate so both see the same machine state
        for mode in best:
            model.zero_grad()
            start = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=mode == "bf16"):
                loss = answer_only_loss(model, data)
            loss.backward()
            best[mode] = min(best[mode], time.perf_counter() - start)
            losses[mode] = float(loss.detach())
    print(f"native bf16 on this CPU: {native_bf16('cpu')}; torch threads {torch.get_num_threads()}")
    print(f"batch {args.batch} x {args.length} tokens, best of {args.repeats}:")
    for mode, seconds in best.items():
        print(f"  {mode}: {seconds:.2f} s/step, loss {losses[mode]:.4f}")
    print(f"bf16 speed-up: {best['fp32'] / best['bf16']:.2f}x; "
          f"loss difference {abs(losses['fp32'] - losses['bf16']):.4f}")  # fmt: skip


if __name__ == "__main__":
    main()
