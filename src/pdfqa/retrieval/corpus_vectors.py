"""Passage embeddings computed once and reused by the later stages (``paths.corpus_vectors``).

train_embedder's val evaluation embeds every chunk with the base model (before training) and
with each checkpoint it scores. The index (fine-tuned model) and eval_retrieval (base model)
would embed the same passages with the same weights again: on 2 CPU cores about half of each
of those stages. train_embedder keeps what its evaluator computed (the fine-tuned vectors of
the checkpoint it restores); a stage reuses them only when the chunks are exactly the ones that
were embedded (a hash of their ids and texts), the model it would embed them with has the same
weights and prompts (a fingerprint) and truncates no passage differently (``max_seq_length``:
the base model loads with 512, training scores it at the profile's 256, which only matters when
a passage is longer) — otherwise it embeds, as before. Vectors are L2-normalised float32, the
same numbers ``retrieval.index.encode_passages`` returns (tests check bit equality).
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np

log = logging.getLogger("pdfqa.corpus_vectors")
Which = Literal["base", "finetuned"]
MANIFEST = "manifest.json"


def chunks_key(chunks: Sequence[dict]) -> str:
    """What the vectors were computed from: the chunk ids and texts, in order."""
    digest = hashlib.sha256()
    for chunk in chunks:
        digest.update(json.dumps([chunk["chunk_id"], chunk["text"]], ensure_ascii=False).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def fingerprint(model) -> str:
    """A hash of a sentence-transformers model's prompts and weights, skipping the (frozen,
    96M-parameter) token-embedding matrices: every other tensor changes when it is fine-tuned."""
    digest = hashlib.sha256(json.dumps(model.prompts or {}, sort_keys=True).encode())
    for name, tensor in sorted(model.state_dict().items()):
        if tensor.numel() <= 10_000_000:
            digest.update(name.encode())
            digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def longest_passage(model, texts: Sequence[str]) -> int:
    """Tokens of the longest passage as the model reads it (prompt and special tokens included,
    before truncation)."""
    prompt = (model.prompts or {}).get("passage", "")
    lengths = [len(ids) for ids in model.tokenizer([prompt + t for t in texts])["input_ids"]]
    return max(lengths, default=0)


def normalised(embeddings) -> np.ndarray:
    """An evaluator's corpus embeddings (a torch tensor) as ``encode_passages`` returns them."""
    import torch

    return np.asarray(
        torch.nn.functional.normalize(embeddings.detach().cpu(), p=2, dim=1).numpy(),
        dtype=np.float32,
    )


def save(
    out_dir: Path, chunks: Sequence[dict], vectors: dict[str, np.ndarray], models: dict[str, str],
    model,
) -> None:  # fmt: skip
    """``vectors``: ``base`` and/or ``finetuned`` arrays (one row per chunk); ``models``: the
    ``fingerprint`` of the model behind each; ``model``: the one that embedded them (its
    tokenizer and ``max_seq_length``). Written to a staging folder, then renamed: an
    interrupted stage leaves the old folder or none."""
    from pdfqa.jsonio import write_json

    out_dir = Path(out_dir)
    staging = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, array in sorted(vectors.items()):
        if len(array) != len(chunks):
            raise ValueError(f"{name}: {len(array)} vectors for {len(chunks)} chunks")
        np.save(staging / f"{name}.npy", np.asarray(array, dtype=np.float32))
    write_json(staging / MANIFEST, {
        "chunks_sha256": chunks_key(chunks), "n_chunks": len(chunks),
        "models": {k: models[k] for k in sorted(vectors)}, "max_seq_length": model.max_seq_length,
        "longest_passage_tokens": longest_passage(model, [c["text"] for c in chunks]),
    })  # fmt: skip
    shutil.rmtree(out_dir, ignore_errors=True)
    staging.rename(out_dir)


def load(directory: Path, chunks: Sequence[dict], which: Which, model) -> np.ndarray | None:
    """The ``which`` vectors of exactly these chunks as ``model`` (a SentenceTransformer)
    embeds them, or None (then the caller embeds them)."""
    directory = Path(directory)
    manifest_file = directory / MANIFEST
    if not manifest_file.exists():
        return None
    manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    why = None
    if which not in manifest.get("models", {}):
        why = "not kept by train_embedder (a resumed run)"
    elif manifest.get("chunks_sha256") != chunks_key(chunks):
        why = "computed for other chunks"
    elif manifest["models"][which] != fingerprint(model):
        why = "computed with other model weights or prompts"
    elif model.max_seq_length != manifest["max_seq_length"] and (
        min(model.max_seq_length, manifest["max_seq_length"]) < manifest["longest_passage_tokens"]
    ):
        why = (f"truncated at {manifest['max_seq_length']} tokens, not {model.max_seq_length} "
               f"(passages up to {manifest['longest_passage_tokens']})")  # fmt: skip
    if why:
        log.info("embedding the passages: %s vectors in %s were %s", which, directory, why)
        return None
    vectors = np.load(directory / f"{which}.npy")
    log.info("reusing the %s passage vectors train_embedder computed (%d × %d)", which,
             *vectors.shape)  # fmt: skip
    return vectors
