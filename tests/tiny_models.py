"""Tiny models tests build from a config (no hub): a 1-layer, 32-wide BERT with e5's tokenizer
as a sentence-transformer (32 MB, random weights, real Korean tokenisation)."""

from __future__ import annotations

from pathlib import Path


def build_tiny_embedder(out: Path) -> Path:
    import torch
    from models_cache import builtin_dir
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules
    from transformers import AutoConfig, AutoModel, AutoTokenizer

    source = builtin_dir("multilingual-e5-small")
    config = AutoConfig.from_pretrained(source)
    config.update({"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "intermediate_size": 64})  # fmt: skip
    torch.manual_seed(0)
    AutoModel.from_config(config).save_pretrained(out / "hf")
    AutoTokenizer.from_pretrained(source).save_pretrained(out / "hf")
    word = modules.Transformer(str(out / "hf"), max_seq_length=128)
    model = SentenceTransformer(modules=[word, modules.Pooling(32, "mean"), modules.Normalize()])
    model.save(str(out / "st"))
    return out / "st"
